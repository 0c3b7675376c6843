/* The C API of a library built by `adjoint-compile MODEL.onnx --emit=lib -o libNAME.so`.
 *
 * The library holds one model, compiled ahead of time with its loss, optimizer and batch size
 * (adjoint-compile prints them; the generated NAME.h #defines them). A session owns the
 * model's parameters and optimizer state; it starts from the parameters embedded at compile
 * time, or from a checkpoint. Sessions are independent, but one session must not be used by
 * two threads at once.
 *
 * Ownership: the caller owns every buffer it passes; the library never keeps a pointer to one
 * after the call returns, and it writes only into buffers passed as outputs, of the size the
 * call documents. Strings returned by the library (names, error messages) belong to the library:
 * names live as long as the library is loaded, an error message until the next failing call on
 * the same thread. Sessions are freed with adjoint_session_free.
 *
 * Errors: calls that can fail return 0 on success and -1 on failure (or NULL for a session);
 * adjoint_last_error() then says why. Nothing aborts the process on bad input.
 *
 * Element types use the ONNX TensorProto codes: 1 float32, 11 float64, 7 int64, 6 int32,
 * 9 bool (one byte). */
#ifndef ADJOINT_AOT_H
#define ADJOINT_AOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct adjoint_session adjoint_session;

/* Why the last failing call on this thread failed ("" when none has). */
const char *adjoint_last_error(void);

/* ---- The compiled model ------------------------------------------------------------------- */

/* The batch size the training step was compiled for. adjoint_train_step accepts the sizes
 * listed by adjoint_train_batch_sizes: by default every size from 1 to this one
 * (adjoint-compile --tail-batch=none or =N,... compiles fewer). */
int64_t adjoint_batch_size(void);
/* Writes up to `cap` compiled training batch sizes into `out`; returns how many there are. */
int64_t adjoint_train_batch_sizes(int64_t *out, int64_t cap);
/* Elements of one example of the data input, and its element type. */
int64_t adjoint_example_size(void);
int32_t adjoint_input_dtype(void);
/* Elements of one example's target, and its element type (cross-entropy: one int64 label). */
int64_t adjoint_target_size(void);
int32_t adjoint_target_dtype(void);
/* Elements of one example's prediction (cross-entropy: the number of classes). */
int64_t adjoint_prediction_size(void);

/* Parameters (every initializer the step reads, trained or not), in a fixed order. */
int64_t adjoint_num_params(void);
const char *adjoint_param_name(int64_t i); /* NULL when i is out of range */
int32_t adjoint_param_dtype(int64_t i);    /* 0 when out of range */
int64_t adjoint_param_numel(int64_t i);    /* elements; -1 when out of range */

/* ---- Sessions ------------------------------------------------------------------------------ */

/* A session with the parameters embedded at compile time and zero optimizer state. */
adjoint_session *adjoint_session_new(void);
/* A session restored from a checkpoint written by adjoint_save_checkpoint or by the trainer
 * executable compiled from the same model and settings. */
adjoint_session *adjoint_session_from_checkpoint(const char *path);
void adjoint_session_free(adjoint_session *s); /* NULL is allowed */

/* Threads for the compiled loops and BLAS, process-wide (0: every core). */
void adjoint_set_threads(int32_t n);

/* ---- Steps -------------------------------------------------------------------------------- */

/* One optimizer step on n examples: x holds n * adjoint_example_size() elements of
 * adjoint_input_dtype(), y n * adjoint_target_size() of adjoint_target_dtype(); lr is the
 * learning rate of this step. The session's step counter (the optimizer's bias correction)
 * advances by one; a model with Dropout draws a new mask each step, seeded by that counter as
 * the trainer executable does with --seed=0. *loss (may be NULL) receives the batch's mean loss. n must be a compiled
 * training batch size. */
int adjoint_train_step(adjoint_session *s, const void *x, const void *y, int64_t n, double lr,
                       double *loss);

/* Evaluates n examples (any n >= 1: batches without a compiled step run one example at a time)
 * without changing the session. *loss (may be NULL) receives the mean loss, *correct (may be
 * NULL) how many predictions were right (cross-entropy: arg-max equals the label;
 * bce-with-logits: the logit's sign), and pred (may be NULL) n * adjoint_prediction_size()
 * float32 or float64 values, of the model output's own type. */
int adjoint_eval_step(adjoint_session *s, const void *x, const void *y, int64_t n, double *loss,
                      int64_t *correct, void *pred);

/* Steps taken so far (restored from a checkpoint). */
int64_t adjoint_session_steps(const adjoint_session *s);

/* ---- Parameters, checkpoints, export --------------------------------------------------------- */

/* Copies parameter `name` out of (get) or into (set) the session; `bytes` must be its exact size
 * (adjoint_param_numel times the element size). */
int adjoint_get_param(const adjoint_session *s, const char *name, void *out, size_t bytes);
int adjoint_set_param(adjoint_session *s, const char *name, const void *in, size_t bytes);

/* Writes the parameters, optimizer state and step counter (atomically). */
int adjoint_save_checkpoint(adjoint_session *s, const char *path);

/* Writes the ONNX model the library was compiled from, with the session's parameters as its
 * initializers (atomically). */
int adjoint_export_onnx(const adjoint_session *s, const char *path);

#ifdef __cplusplus
}
#endif

#endif
