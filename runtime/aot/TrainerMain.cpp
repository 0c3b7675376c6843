// main() of the executables adjoint-compile --emit=exe links (kept apart from the library so a
// program linking the C API keeps its own main).
#include "AotTrainer.h"

int main(int argc, char **argv) { return adjoint::aot::trainerMain(argc, argv); }
