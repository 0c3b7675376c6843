/* The C API of an adjoint-compile library (fashion_mlp, built by tools/adjoint-compile/example),
 * exercised from C: model queries, training, evaluation, parameters, checkpoints, export, and
 * every error path returning -1 / NULL with a message instead of crashing. Usage:
 *   capi_test WORKDIR      (writes its checkpoint and model there) */
#include "libfashion_mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define EXPECT(cond)                                                                               \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__, __LINE__, #cond,          \
              adjoint_last_error());                                                               \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)
#define EXPECT_ERROR(call, text)                                                                   \
  do {                                                                                             \
    EXPECT((call) == -1);                                                                          \
    EXPECT(strstr(adjoint_last_error(), text) != NULL);                                            \
  } while (0)

static float frand(unsigned *state) {
  *state = *state * 1664525u + 1013904223u;
  return (float)(*state >> 8) / 16777216.0f;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: capi_test WORKDIR\n");
    return 2;
  }
  char ckpt[4096], onnx[4096], bad[4096];
  snprintf(ckpt, sizeof ckpt, "%s/capi.ckpt", argv[1]);
  snprintf(onnx, sizeof onnx, "%s/capi.onnx", argv[1]);
  snprintf(bad, sizeof bad, "%s/not-a-checkpoint", argv[1]);

  /* The model, as the header and the library describe it. */
  EXPECT(adjoint_batch_size() == ADJOINT_MODEL_BATCH && ADJOINT_MODEL_BATCH == 64);
  EXPECT(adjoint_example_size() == 784 && ADJOINT_MODEL_EXAMPLE_SIZE == 784);
  EXPECT(adjoint_input_dtype() == 1 && adjoint_target_dtype() == 7);
  EXPECT(adjoint_target_size() == 1 && adjoint_prediction_size() == 10);
  EXPECT(adjoint_num_params() == 6 && ADJOINT_MODEL_NUM_PARAMS == 6);
  int64_t sizes[4];
  EXPECT(adjoint_train_batch_sizes(sizes, 4) == 1 && sizes[0] == 64);
  int64_t total = 0;
  for (int64_t i = 0; i < adjoint_num_params(); ++i) {
    EXPECT(adjoint_param_name(i) != NULL && adjoint_param_dtype(i) == 1);
    total += adjoint_param_numel(i);
  }
  EXPECT(total == 535818);
  EXPECT(adjoint_param_name(6) == NULL && adjoint_param_numel(-1) == -1);

  /* A fixed batch of random images with labels: loss falls as the steps fit it. */
  enum { B = 64, D = 784 };
  static float x[B * D], x70[70 * D], pred[70 * 10];
  static int64_t y[B], y70[70];
  unsigned st = 1;
  for (int i = 0; i < B * D; ++i)
    x[i] = frand(&st);
  for (int i = 0; i < B; ++i)
    y[i] = i % 10;
  adjoint_set_threads(1);
  adjoint_session *s = adjoint_session_new();
  EXPECT(s != NULL);
  double first = 0, loss = 0;
  for (int k = 0; k < 20; ++k) {
    EXPECT(adjoint_train_step(s, x, y, B, 1e-3, &loss) == 0);
    if (k == 0)
      first = loss;
  }
  EXPECT(isfinite(loss) && loss < 0.5 * first);
  EXPECT(adjoint_session_steps(s) == 20);

  /* Evaluation of 70 examples: one compiled batch of 64, then six one at a time. */
  for (int i = 0; i < 70 * D; ++i)
    x70[i] = x[i % (B * D)];
  for (int i = 0; i < 70; ++i)
    y70[i] = y[i % B];
  double eloss = 0;
  int64_t correct = -1;
  EXPECT(adjoint_eval_step(s, x70, y70, 70, &eloss, &correct, pred) == 0);
  EXPECT(correct >= 60 && correct <= 70 && isfinite(eloss));
  for (int i = 0; i < 6; ++i) /* examples 64.. repeat 0..5, so their logits do too */
    EXPECT(fabsf(pred[(64 + i) * 10 + 3] - pred[i * 10 + 3]) <= 1e-4f * (1 + fabsf(pred[i * 10 + 3])));

  /* Parameters out and back in. */
  static float bias[10], saved[10];
  EXPECT(adjoint_get_param(s, "4.bias", bias, sizeof bias) == 0);
  memcpy(saved, bias, sizeof bias);
  bias[0] += 1;
  EXPECT(adjoint_set_param(s, "4.bias", bias, sizeof bias) == 0);
  EXPECT(adjoint_get_param(s, "4.bias", bias, sizeof bias) == 0 && bias[0] == saved[0] + 1);
  EXPECT(adjoint_set_param(s, "4.bias", saved, sizeof saved) == 0);

  /* A checkpoint restores parameters, optimizer state and the step count exactly. */
  EXPECT(adjoint_save_checkpoint(s, ckpt) == 0);
  adjoint_session *r = adjoint_session_from_checkpoint(ckpt);
  EXPECT(r != NULL);
  if (r) {
    EXPECT(adjoint_session_steps(r) == 20);
    double la = 0, lb = 0;
    EXPECT(adjoint_train_step(s, x, y, B, 1e-3, &la) == 0);
    EXPECT(adjoint_train_step(r, x, y, B, 1e-3, &lb) == 0);
    EXPECT(la == lb);
    static float wa[10 * 256], wb[10 * 256];
    EXPECT(adjoint_get_param(s, "4.weight", wa, sizeof wa) == 0);
    EXPECT(adjoint_get_param(r, "4.weight", wb, sizeof wb) == 0);
    EXPECT(memcmp(wa, wb, sizeof wa) == 0);
    adjoint_session_free(r);
  }
  EXPECT(adjoint_export_onnx(s, onnx) == 0);
  FILE *f = fopen(onnx, "rb");
  EXPECT(f != NULL);
  if (f) {
    fseek(f, 0, SEEK_END);
    EXPECT(ftell(f) > 2000000); /* 535818 floats and the graph */
    fclose(f);
  }

  /* Errors: a message and -1 / NULL, the session unharmed. */
  EXPECT_ERROR(adjoint_train_step(s, x, y, 32, 1e-3, NULL), "no training step was compiled for a batch of 32");
  EXPECT_ERROR(adjoint_train_step(s, NULL, y, B, 1e-3, NULL), "x and y are required");
  EXPECT_ERROR(adjoint_train_step(s, x, y, B, -1, NULL), "lr must be positive");
  EXPECT_ERROR(adjoint_eval_step(s, x, y, 0, NULL, NULL, NULL), "n must be at least 1");
  EXPECT_ERROR(adjoint_get_param(s, "4.bias", bias, 8), "not 8 bytes");
  EXPECT_ERROR(adjoint_get_param(s, "nope", bias, sizeof bias), "no parameter 'nope'");
  EXPECT_ERROR(adjoint_set_param(s, NULL, bias, sizeof bias), "no parameter name");
  y[3] = 12; /* not a class */
  EXPECT_ERROR(adjoint_train_step(s, x, y, B, 1e-3, NULL), "12");
  y[3] = 3;
  EXPECT(adjoint_train_step(s, x, y, B, 1e-3, &loss) == 0 && isfinite(loss));
  EXPECT_ERROR(adjoint_save_checkpoint(s, "/nonexistent-dir/x.ckpt"), "cannot write");
  f = fopen(bad, "wb");
  if (f) {
    fputs("definitely not a checkpoint, but long enough to have a header", f);
    fclose(f);
  }
  EXPECT(adjoint_session_from_checkpoint(bad) == NULL);
  EXPECT(strstr(adjoint_last_error(), "not a checkpoint") != NULL);
  EXPECT(adjoint_session_from_checkpoint("/nonexistent.ckpt") == NULL);
  adjoint_session_free(s);
  adjoint_session_free(NULL);

  if (failures)
    fprintf(stderr, "capi_test: %d failures\n", failures);
  else
    printf("capi_test: all checks passed\n");
  return failures ? 1 : 0;
}
