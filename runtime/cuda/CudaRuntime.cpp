// The CUDA runtime of GPU plans (CudaRuntime.h). The driver API and cuBLAS are reached through
// function pointers looked up with dlopen/dlsym, so nothing here needs a driver at link time or
// at start; the headers only give the types. Names go through the headers' macros (cuMemAlloc is
// cuMemAlloc_v2), so the symbols looked up are the versions the headers declare.
#include "CudaRuntime.h"

#include <cublas_v2.h>
#include <cuda.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace adjoint::gpu {

namespace {

#define ADJ_STR(x) #x
#define ADJ_XSTR(x) ADJ_STR(x)
#define ADJ_FN(name) decltype(&::name) name = nullptr;

struct Api {
  ADJ_FN(cuInit) ADJ_FN(cuDeviceGetCount) ADJ_FN(cuDeviceGet) ADJ_FN(cuDeviceGetName)
  ADJ_FN(cuDeviceGetAttribute) ADJ_FN(cuDevicePrimaryCtxRetain) ADJ_FN(cuCtxSetCurrent)
  ADJ_FN(cuModuleLoadDataEx) ADJ_FN(cuModuleUnload) ADJ_FN(cuModuleGetFunction)
  ADJ_FN(cuModuleGetGlobal) ADJ_FN(cuMemAlloc) ADJ_FN(cuMemFree) ADJ_FN(cuMemAllocHost)
  ADJ_FN(cuMemFreeHost) ADJ_FN(cuMemcpyHtoD) ADJ_FN(cuMemcpyDtoH) ADJ_FN(cuMemcpyHtoDAsync)
  ADJ_FN(cuMemcpyDtoDAsync) ADJ_FN(cuMemsetD8) ADJ_FN(cuLaunchKernel) ADJ_FN(cuStreamCreate)
  ADJ_FN(cuStreamDestroy) ADJ_FN(cuStreamSynchronize) ADJ_FN(cuEventCreate) ADJ_FN(cuEventDestroy)
  ADJ_FN(cuEventRecord) ADJ_FN(cuEventSynchronize) ADJ_FN(cuEventElapsedTime)
  ADJ_FN(cuGetErrorName) ADJ_FN(cuGetErrorString)
  ADJ_FN(cublasCreate) ADJ_FN(cublasDestroy) ADJ_FN(cublasSetStream) ADJ_FN(cublasSetMathMode)
  ADJ_FN(cublasSgemm) ADJ_FN(cublasDgemm) ADJ_FN(cublasSgemmStridedBatched)
  ADJ_FN(cublasDgemmStridedBatched)

  std::string why; // empty when usable
  CUdevice device = 0;
  CUcontext context = nullptr;
  std::string name, arch;
};

void *openFirst(std::initializer_list<const char *> names, std::string &err) {
  for (const char *n : names) {
    if (void *h = dlopen(n, RTLD_NOW | RTLD_LOCAL))
      return h;
    if (err.empty())
      err = dlerror();
  }
  return nullptr;
}

const char *errorName(const Api &api, CUresult r) {
  const char *s = nullptr;
  if (api.cuGetErrorName && api.cuGetErrorName(r, &s) == CUDA_SUCCESS && s)
    return s;
  return "CUDA_ERROR_UNKNOWN";
}

std::string describe(const Api &api, CUresult r) {
  const char *s = nullptr;
  std::string msg = errorName(api, r);
  if (api.cuGetErrorString && api.cuGetErrorString(r, &s) == CUDA_SUCCESS && s)
    msg += std::string(" (") + s + ")";
  return msg;
}

Api &api() {
  static Api a;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string err;
    void *cu = openFirst({"libcuda.so.1", "libcuda.so"}, err);
    if (!cu) {
      a.why = "no CUDA driver: " + err;
      return;
    }
    auto sym = [&](void *lib, const char *n) {
      void *p = dlsym(lib, n);
      if (!p && a.why.empty())
        a.why = std::string("the CUDA libraries lack ") + n;
      return p;
    };
#define ADJ_LOAD(lib, name) a.name = reinterpret_cast<decltype(a.name)>(sym(lib, ADJ_XSTR(name)));
    ADJ_LOAD(cu, cuInit) ADJ_LOAD(cu, cuDeviceGetCount) ADJ_LOAD(cu, cuDeviceGet)
    ADJ_LOAD(cu, cuDeviceGetName) ADJ_LOAD(cu, cuDeviceGetAttribute)
    ADJ_LOAD(cu, cuDevicePrimaryCtxRetain) ADJ_LOAD(cu, cuCtxSetCurrent)
    ADJ_LOAD(cu, cuModuleLoadDataEx) ADJ_LOAD(cu, cuModuleUnload) ADJ_LOAD(cu, cuModuleGetFunction)
    ADJ_LOAD(cu, cuModuleGetGlobal) ADJ_LOAD(cu, cuMemAlloc) ADJ_LOAD(cu, cuMemFree)
    ADJ_LOAD(cu, cuMemAllocHost) ADJ_LOAD(cu, cuMemFreeHost) ADJ_LOAD(cu, cuMemcpyHtoD)
    ADJ_LOAD(cu, cuMemcpyDtoH) ADJ_LOAD(cu, cuMemcpyHtoDAsync) ADJ_LOAD(cu, cuMemcpyDtoDAsync)
    ADJ_LOAD(cu, cuMemsetD8) ADJ_LOAD(cu, cuLaunchKernel) ADJ_LOAD(cu, cuStreamCreate)
    ADJ_LOAD(cu, cuStreamDestroy) ADJ_LOAD(cu, cuStreamSynchronize) ADJ_LOAD(cu, cuEventCreate)
    ADJ_LOAD(cu, cuEventDestroy) ADJ_LOAD(cu, cuEventRecord) ADJ_LOAD(cu, cuEventSynchronize)
    ADJ_LOAD(cu, cuEventElapsedTime) ADJ_LOAD(cu, cuGetErrorName) ADJ_LOAD(cu, cuGetErrorString)
    if (!a.why.empty())
      return;
    CUresult r = a.cuInit(0);
    if (r != CUDA_SUCCESS) {
      a.why = r == CUDA_ERROR_NO_DEVICE ? "no CUDA device" : "no usable CUDA driver: cuInit: " + describe(a, r);
      return;
    }
    int count = 0;
    if (a.cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
      a.why = "no CUDA device";
      return;
    }
    std::string berr;
#ifdef ADJOINT_CUBLAS_PATH
    // The toolkit's own first: its lib64 need not be on the loader's path.
    void *blas = openFirst({ADJOINT_CUBLAS_PATH, "libcublas.so", "libcublas.so.13", "libcublas.so.12"}, berr);
#else
    void *blas = openFirst({"libcublas.so", "libcublas.so.13", "libcublas.so.12"}, berr);
#endif
    if (!blas) {
      a.why = "no cuBLAS: " + berr;
      return;
    }
    ADJ_LOAD(blas, cublasCreate) ADJ_LOAD(blas, cublasDestroy) ADJ_LOAD(blas, cublasSetStream)
    ADJ_LOAD(blas, cublasSetMathMode) ADJ_LOAD(blas, cublasSgemm) ADJ_LOAD(blas, cublasDgemm)
    ADJ_LOAD(blas, cublasSgemmStridedBatched) ADJ_LOAD(blas, cublasDgemmStridedBatched)
#undef ADJ_LOAD
    if (!a.why.empty())
      return;
    char name[256] = {0};
    int major = 0, minor = 0;
    if ((r = a.cuDeviceGet(&a.device, 0)) != CUDA_SUCCESS ||
        (r = a.cuDeviceGetName(name, sizeof name, a.device)) != CUDA_SUCCESS ||
        (r = a.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, a.device)) != CUDA_SUCCESS ||
        (r = a.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, a.device)) != CUDA_SUCCESS ||
        (r = a.cuDevicePrimaryCtxRetain(&a.context, a.device)) != CUDA_SUCCESS) {
      a.why = "the CUDA device cannot be opened: " + describe(a, r);
      return;
    }
    a.name = name;
    a.arch = "sm_" + std::to_string(major * 10 + minor);
  });
  return a;
}

[[noreturn]] void failWith(const std::string &msg) { throw std::runtime_error(msg); }

void check(CUresult r, const std::string &what) {
  if (r != CUDA_SUCCESS)
    failWith("CUDA error " + describe(api(), r) + " " + what);
}

const Api &usable() {
  const Api &a = api();
  if (!a.why.empty())
    failWith("CUDA is not available: " + a.why);
  check(a.cuCtxSetCurrent(a.context), "making the device's context current");
  return a;
}

int64_t align256(int64_t n) { return (n + 255) / 256 * 256; }

} // namespace

bool cudaAvailable(std::string *why) {
  const Api &a = api();
  if (why)
    *why = a.why;
  return a.why.empty();
}

std::string cudaDeviceName() { return usable().name; }
std::string cudaDeviceArch() { return usable().arch; }

struct CudaProgram::Impl {
  Plan plan;
  CUmodule module = nullptr;
  CUstream stream = nullptr;
  CUevent start = nullptr, stop = nullptr;
  cublasHandle_t blas = nullptr;
  CUdeviceptr arena = 0;
  std::vector<int64_t> slotOffset; // into the arena; constants at constOffset
  int64_t constOffset = 0;
  std::vector<CUfunction> functions; // per step (launches)
  CUdeviceptr errorPtr = 0;
  // Pinned staging buffers, two per slot, used alternately (double buffering).
  std::unordered_map<int, std::pair<void *[2], int>> staging;
  std::unordered_map<int, int64_t> stagingBytes;
  double lastMs = 0;
  bool syncEach = false;

  CUdeviceptr address(const BufferRef &r) const {
    int64_t base = r.slot == BufferRef::kConstants ? constOffset : slotOffset.at((size_t)r.slot);
    return arena + (CUdeviceptr)(base + r.offset);
  }
};

CudaProgram::CudaProgram(Plan plan) : impl_(std::make_unique<Impl>()) {
  const Api &a = usable();
  Impl &m = *impl_;
  m.plan = std::move(plan);
  const char *sync = std::getenv("ADJOINT_CUDA_SYNC");
  m.syncEach = sync && *sync && std::string(sync) != "0";

  // The driver compiles the PTX for this device; its log says why when it cannot.
  char log[8192] = {0};
  CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[] = {log, reinterpret_cast<void *>((uintptr_t)sizeof log)};
  CUresult r = a.cuModuleLoadDataEx(&m.module, m.plan.ptx.c_str(), 2, opts, vals);
  if (r != CUDA_SUCCESS)
    failWith("CUDA error " + describe(a, r) + " loading the PTX of @" + m.plan.entry + " (" + m.plan.arch +
             ") on " + a.name + " (" + a.arch + "): " + log);
  for (const Step &s : m.plan.steps) {
    CUfunction f = nullptr;
    if (s.kind == Step::Kind::Launch)
      check(a.cuModuleGetFunction(&f, m.module, s.launch.kernel.c_str()), "finding kernel " + s.launch.kernel);
    m.functions.push_back(f);
  }
  size_t errBytes = 0;
  check(a.cuModuleGetGlobal(&m.errorPtr, &errBytes, m.module, Plan::kErrorSymbol), "finding the error record");

  // One arena: every slot (an in-place output shares its argument's), the workspace, constants.
  int64_t top = 0;
  m.slotOffset.assign(m.plan.slots.size(), 0);
  for (size_t i = 0; i < m.plan.slots.size(); ++i) {
    if (m.plan.slots[i].inPlaceOf >= 0)
      continue;
    m.slotOffset[i] = top;
    top += align256(std::max<int64_t>(m.plan.slots[i].bytes, 1));
  }
  for (size_t i = 0; i < m.plan.slots.size(); ++i)
    if (m.plan.slots[i].inPlaceOf >= 0)
      m.slotOffset[i] = m.slotOffset[(size_t)m.plan.slots[i].inPlaceOf];
  m.constOffset = top;
  top += align256(std::max<int64_t>((int64_t)m.plan.constants.size(), 1));
  check(a.cuMemAlloc(&m.arena, (size_t)top), "allocating the " + std::to_string(top) + "-byte device arena of @" + m.plan.entry);
  check(a.cuMemsetD8(m.arena, 0, (size_t)top), "clearing the device arena");
  if (!m.plan.constants.empty())
    check(a.cuMemcpyHtoD(m.arena + (CUdeviceptr)m.constOffset, m.plan.constants.data(), m.plan.constants.size()),
          "uploading constants");
  check(a.cuStreamCreate(&m.stream, CU_STREAM_NON_BLOCKING), "creating a stream");
  check(a.cuEventCreate(&m.start, CU_EVENT_DEFAULT), "creating an event");
  check(a.cuEventCreate(&m.stop, CU_EVENT_DEFAULT), "creating an event");
  if (a.cublasCreate(&m.blas) != CUBLAS_STATUS_SUCCESS)
    failWith("cuBLAS cannot be initialized on " + a.name);
  a.cublasSetStream(m.blas, (cudaStream_t)m.stream);
  // No TF32: f32 GEMMs round as the CPU's sgemm does, within the tests' 1e-4.
  a.cublasSetMathMode(m.blas, CUBLAS_DEFAULT_MATH);
}

CudaProgram::~CudaProgram() {
  const Api &a = api();
  Impl &m = *impl_;
  if (!a.why.empty())
    return;
  a.cuCtxSetCurrent(a.context);
  if (m.stream)
    a.cuStreamSynchronize(m.stream);
  for (auto &[slot, s] : m.staging)
    for (void *p : s.first)
      if (p)
        a.cuMemFreeHost(p);
  if (m.blas)
    a.cublasDestroy(m.blas);
  if (m.start)
    a.cuEventDestroy(m.start);
  if (m.stop)
    a.cuEventDestroy(m.stop);
  if (m.stream)
    a.cuStreamDestroy(m.stream);
  if (m.arena)
    a.cuMemFree(m.arena);
  if (m.module)
    a.cuModuleUnload(m.module);
}

const Plan &CudaProgram::plan() const { return impl_->plan; }

void CudaProgram::upload(int slot, const void *src, int64_t bytes) {
  const Api &a = usable();
  Impl &m = *impl_;
  if (slot < 0 || slot >= (int)m.plan.slots.size() || bytes > m.plan.slots[(size_t)slot].bytes)
    failWith("upload to slot " + std::to_string(slot) + " of @" + m.plan.entry + ": out of range");
  if (bytes == 0)
    return;
  auto &st = m.staging[slot];
  int64_t &cap = m.stagingBytes[slot];
  if (cap < bytes) {
    for (void *&p : st.first) {
      if (p)
        a.cuMemFreeHost(p);
      p = nullptr;
    }
    for (void *&p : st.first)
      check(a.cuMemAllocHost(&p, (size_t)bytes), "allocating pinned staging memory");
    cap = bytes;
  }
  // The buffer used two uploads ago: its copy finished when that run() waited.
  void *buf = st.first[st.second];
  st.second ^= 1;
  std::memcpy(buf, src, (size_t)bytes);
  check(a.cuMemcpyHtoDAsync(m.address({slot, 0}), buf, (size_t)bytes, m.stream),
        "uploading " + m.plan.slots[(size_t)slot].name);
}

void CudaProgram::download(int slot, void *dst, int64_t bytes) const {
  const Api &a = usable();
  const Impl &m = *impl_;
  if (slot < 0 || slot >= (int)m.plan.slots.size() || bytes > m.plan.slots[(size_t)slot].bytes)
    failWith("download from slot " + std::to_string(slot) + " of @" + m.plan.entry + ": out of range");
  if (bytes == 0)
    return;
  check(a.cuStreamSynchronize(m.stream), "waiting for @" + m.plan.entry);
  check(a.cuMemcpyDtoH(dst, m.address({slot, 0}), (size_t)bytes), "downloading " + m.plan.slots[(size_t)slot].name);
}

void CudaProgram::run() {
  const Api &a = usable();
  Impl &m = *impl_;
  check(a.cuEventRecord(m.start, m.stream), "recording an event");
  for (size_t i = 0; i < m.plan.steps.size(); ++i) {
    const Step &s = m.plan.steps[i];
    std::string where = "in step " + std::to_string(i) + " of @" + m.plan.entry + " (" + s.what + ")";
    switch (s.kind) {
    case Step::Kind::Launch: {
      std::vector<CUdeviceptr> ptrs;
      for (const BufferRef &r : s.launch.args)
        ptrs.push_back(m.address(r));
      std::vector<void *> params;
      for (CUdeviceptr &p : ptrs)
        params.push_back(&p);
      where = "in kernel " + s.launch.kernel + " " + where;
      check(a.cuLaunchKernel(m.functions[i], (unsigned)s.launch.grid, 1, 1, (unsigned)s.launch.block, 1, 1, 0,
                             m.stream, params.data(), nullptr),
            where);
      break;
    }
    case Step::Kind::Gemm: {
      const Gemm &g = s.gemm;
      // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
      cublasOperation_t ta = g.transA ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
      int n = (int)g.n, mm = (int)g.m, k = (int)g.k, lda = (int)std::max<int64_t>(g.lda, 1),
          ldb = (int)std::max<int64_t>(g.ldb, 1), ldc = (int)std::max<int64_t>(g.ldc, 1);
      cublasStatus_t st;
      if (g.f64) {
        double al = g.alpha, be = g.beta;
        auto A = (const double *)m.address(g.a), B = (const double *)m.address(g.b);
        auto C = (double *)m.address(g.c);
        st = g.batch == 1 ? a.cublasDgemm(m.blas, tb, ta, n, mm, k, &al, B, ldb, A, lda, &be, C, ldc)
                          : a.cublasDgemmStridedBatched(m.blas, tb, ta, n, mm, k, &al, B, ldb, g.strideB, A, lda,
                                                        g.strideA, &be, C, ldc, g.strideC, (int)g.batch);
      } else {
        float al = (float)g.alpha, be = (float)g.beta;
        auto A = (const float *)m.address(g.a), B = (const float *)m.address(g.b);
        auto C = (float *)m.address(g.c);
        st = g.batch == 1 ? a.cublasSgemm(m.blas, tb, ta, n, mm, k, &al, B, ldb, A, lda, &be, C, ldc)
                          : a.cublasSgemmStridedBatched(m.blas, tb, ta, n, mm, k, &al, B, ldb, g.strideB, A, lda,
                                                        g.strideA, &be, C, ldc, g.strideC, (int)g.batch);
      }
      if (st != CUBLAS_STATUS_SUCCESS)
        failWith("cuBLAS error " + std::to_string((int)st) + " in GEMM " + where);
      break;
    }
    case Step::Kind::Copy:
      check(a.cuMemcpyDtoDAsync(m.address(s.copy.dst), m.address(s.copy.src), (size_t)s.copy.bytes, m.stream),
            "copying " + where);
      break;
    }
    if (m.syncEach)
      check(a.cuStreamSynchronize(m.stream), where);
  }
  check(a.cuEventRecord(m.stop, m.stream), "recording an event");
  check(a.cuStreamSynchronize(m.stream),
        "running @" + m.plan.entry + (m.syncEach ? "" : " (set ADJOINT_CUDA_SYNC=1 to find the kernel)"));
  float ms = 0;
  if (a.cuEventElapsedTime(&ms, m.start, m.stop) == CUDA_SUCCESS)
    m.lastMs = ms;
  int64_t rec[4] = {0, 0, 0, 0};
  check(a.cuMemcpyDtoH(rec, m.errorPtr, sizeof rec), "reading the error record");
  if (rec[0] != 0) {
    check(a.cuMemsetD8(m.errorPtr, 0, sizeof rec), "clearing the error record");
    failWith(formatKernelError(m.plan, rec));
  }
}

void CudaProgram::copySlot(int dst, int src, int64_t bytes) {
  const Api &a = usable();
  Impl &m = *impl_;
  int n = (int)m.plan.slots.size();
  if (dst < 0 || src < 0 || dst >= n || src >= n || bytes > m.plan.slots[(size_t)dst].bytes ||
      bytes > m.plan.slots[(size_t)src].bytes)
    failWith("copy between slots of @" + m.plan.entry + ": out of range");
  check(a.cuMemcpyDtoDAsync(m.address({dst, 0}), m.address({src, 0}), (size_t)bytes, m.stream),
        "copying " + m.plan.slots[(size_t)src].name + " to " + m.plan.slots[(size_t)dst].name);
}

void CudaProgram::copyFrom(int dst, const CudaProgram &src, int srcSlot, int64_t bytes) {
  const Api &a = usable();
  Impl &m = *impl_;
  const Impl &o = *src.impl_;
  if (dst < 0 || dst >= (int)m.plan.slots.size() || srcSlot < 0 || srcSlot >= (int)o.plan.slots.size() ||
      bytes < 0 || bytes > m.plan.slots[(size_t)dst].bytes || bytes > o.plan.slots[(size_t)srcSlot].bytes)
    failWith("copy from slot " + std::to_string(srcSlot) + " of @" + o.plan.entry + " to slot " +
             std::to_string(dst) + " of @" + m.plan.entry + ": out of range");
  if (bytes == 0)
    return;
  std::string what = "copying " + o.plan.slots[(size_t)srcSlot].name + " from @" + o.plan.entry + " to @" +
                     m.plan.entry;
  check(a.cuStreamSynchronize(o.stream), "waiting for @" + o.plan.entry);
  check(a.cuMemcpyDtoDAsync(m.address({dst, 0}), o.address({srcSlot, 0}), (size_t)bytes, m.stream), what);
  check(a.cuStreamSynchronize(m.stream), what);
}

double CudaProgram::lastRunMs() const { return impl_->lastMs; }

} // namespace adjoint::gpu
