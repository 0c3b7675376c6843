/* Trains fashion_mlp through the C API of a library adjoint-compile built:
 *
 *   adjoint-compile models/fashion_mlp.onnx --emit=lib -o libfashion_mlp.so
 *   cc train_fashion_mnist.c -I. -L. -lfashion_mlp -lz -o train_fashion_mnist
 *   ./train_fashion_mnist [--data DIR] [--steps N] [--lr X] [--checkpoint PATH] [--output PATH]
 *
 * It reads the Fashion-MNIST IDX files itself (zlib reads .gz and plain files alike), scales
 * pixels to [0, 1], trains N steps (300 by default) on batches in a fixed shuffled order,
 * evaluates on the test set, and optionally saves a checkpoint and the trained ONNX model.
 * Exit status 0 on success, 1 with a message on any error. */
#include "libfashion_mlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int fail(const char *what) {
  fprintf(stderr, "train_fashion_mnist: error: %s: %s\n", what, adjoint_last_error());
  return 1;
}

/* Reads an IDX file: magic (0x00000800 | rank), dims, uint8 data. Returns malloc'd bytes. */
static unsigned char *read_idx(const char *path, int rank, long *count, long *row) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    fprintf(stderr, "train_fashion_mnist: error: cannot open %s\n", path);
    return NULL;
  }
  unsigned char head[16];
  long dims[3] = {0, 1, 1};
  int need = 4 + 4 * rank;
  if (gzread(f, head, (unsigned)need) != need || head[2] != 8 || head[3] != rank) {
    fprintf(stderr, "train_fashion_mnist: error: %s is not an IDX uint8 file of rank %d\n", path,
            rank);
    gzclose(f);
    return NULL;
  }
  long total = 1;
  for (int i = 0; i < rank; ++i) {
    const unsigned char *d = head + 4 + 4 * i;
    dims[i] = (long)d[0] << 24 | (long)d[1] << 16 | (long)d[2] << 8 | (long)d[3];
    total *= dims[i];
  }
  unsigned char *data = malloc((size_t)total);
  if (!data || gzread(f, data, (unsigned)total) != (int)total) {
    fprintf(stderr, "train_fashion_mnist: error: %s is truncated\n", path);
    free(data);
    gzclose(f);
    return NULL;
  }
  gzclose(f);
  *count = dims[0];
  *row = total / dims[0];
  return data;
}

/* A small xorshift generator: the example needs a shuffled order, not adjoint-train's. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;
static unsigned long long next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Fills x (floats in [0,1]) and y (int64 labels) with examples order[first .. first + n). */
static void gather(const unsigned char *images, const unsigned char *labels, long row,
                   const long *order, long first, long n, float *x, int64_t *y) {
  for (long i = 0; i < n; ++i) {
    long e = order[first + i];
    for (long k = 0; k < row; ++k)
      x[i * row + k] = images[e * row + k] / 255.0f;
    y[i] = labels[e];
  }
}

int main(int argc, char **argv) {
  const char *dir = "/usr/share/datasets/fashion-mnist", *checkpoint = NULL, *output = NULL;
  long steps = 300;
  double lr = ADJOINT_MODEL_DEFAULT_LR;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 < argc && !strcmp(argv[i], "--data")) dir = argv[++i];
    else if (i + 1 < argc && !strcmp(argv[i], "--steps")) steps = atol(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--lr")) lr = atof(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--checkpoint")) checkpoint = argv[++i];
    else if (i + 1 < argc && !strcmp(argv[i], "--output")) output = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--data DIR] [--steps N] [--lr X] [--checkpoint PATH] "
                      "[--output PATH]\n", argv[0]);
      return 1;
    }
  }
  if (steps <= 0 || !(lr > 0)) {
    fprintf(stderr, "train_fashion_mnist: error: --steps and --lr must be positive\n");
    return 1;
  }

  char path[4096];
  long n_train, n_test, row, label_row;
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
  unsigned char *train_x = read_idx(path, 3, &n_train, &row);
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
  unsigned char *train_y = read_idx(path, 1, &n_train, &label_row);
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
  unsigned char *test_x = read_idx(path, 3, &n_test, &row);
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
  unsigned char *test_y = read_idx(path, 1, &n_test, &label_row);
  if (!train_x || !train_y || !test_x || !test_y)
    return 1;
  if (row != adjoint_example_size() || adjoint_input_dtype() != 1 ||
      adjoint_target_dtype() != 7) {
    fprintf(stderr, "train_fashion_mnist: error: the library's model does not take 28x28 "
                    "float images and int64 labels\n");
    return 1;
  }

  adjoint_session *s = adjoint_session_new();
  if (!s)
    return fail("creating a session");
  long batch = (long)adjoint_batch_size();
  float *x = malloc(sizeof(float) * (size_t)(batch * row));
  int64_t *y = malloc(sizeof(int64_t) * (size_t)batch);
  long *order = malloc(sizeof(long) * (size_t)(n_train > n_test ? n_train : n_test));
  long batches = n_train / batch;

  printf("training %s (%s, %s, batch %ld) for %ld steps\n", ADJOINT_MODEL_NAME,
         ADJOINT_MODEL_LOSS, ADJOINT_MODEL_OPTIMIZER, batch, steps);
  for (long step = 0; step < steps; ++step) {
    if (step % batches == 0) { /* a new epoch: Fisher-Yates */
      for (long i = 0; i < n_train; ++i)
        order[i] = i;
      for (long i = n_train - 1; i > 0; --i) {
        long j = (long)(next_random() % (unsigned long long)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    gather(train_x, train_y, row, order, (step % batches) * batch, batch, x, y);
    double loss;
    if (adjoint_train_step(s, x, y, batch, lr, &loss) != 0)
      return fail("a training step");
    if ((step + 1) % 100 == 0 || step + 1 == steps)
      printf("step %ld: loss %.4f\n", step + 1, loss);
  }

  /* The whole test set in one call: the library runs it batch by batch. */
  float *all_x = malloc(sizeof(float) * (size_t)(n_test * row));
  int64_t *all_y = malloc(sizeof(int64_t) * (size_t)n_test);
  for (long i = 0; i < n_test; ++i)
    order[i] = i;
  gather(test_x, test_y, row, order, 0, n_test, all_x, all_y);
  double test_loss;
  int64_t correct;
  if (adjoint_eval_step(s, all_x, all_y, n_test, &test_loss, &correct, NULL) != 0)
    return fail("evaluating");
  printf("test accuracy %.2f%% (%ld examples), test loss %.4f after %lld steps\n",
         100.0 * (double)correct / (double)n_test, n_test, test_loss,
         (long long)adjoint_session_steps(s));

  if (checkpoint && adjoint_save_checkpoint(s, checkpoint) != 0)
    return fail("saving the checkpoint");
  if (output && adjoint_export_onnx(s, output) != 0)
    return fail("exporting the model");
  adjoint_session_free(s);
  free(x), free(y), free(order), free(all_x), free(all_y);
  free(train_x), free(train_y), free(test_x), free(test_y);
  return 0;
}
