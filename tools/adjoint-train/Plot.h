#pragma once
// --plot=PATH: the loss curves (and accuracy, where the loss has one) as a standalone SVG: per
// step training loss, faint, with its moving average over it, and the test set's at each
// evaluation; axes with ticks at round numbers, labels, a legend and a title.
#include "TrainState.h"

#include <string>

namespace adjoint::train {

struct PlotData {
  std::string title, subtitle;
  std::vector<Point> train, test;
  bool accuracy = true; // draw the accuracy panel
};

std::string renderPlotSvg(const PlotData &d);
void writePlot(const std::string &path, const PlotData &d); // atomic

// Round tick positions covering [lo, hi], about `target` of them.
std::vector<double> niceTicks(double lo, double hi, int target);

} // namespace adjoint::train
