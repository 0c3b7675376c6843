# The optional NVIDIA GPU target (docs/gpu.md). ADJOINT_CUDA=AUTO (default) enables the CUDA
# runtime (runtime/cuda) and the tools' --backend=cuda / --device=cuda when the CUDA toolkit is
# found: cuda.h and cublas_v2.h, the driver stub libcuda.so and libcublas (the runtime opens the
# real driver and cuBLAS with dlopen at run time, so binaries start on machines without them).
# ON requires it, OFF builds without it. The NVPTX code generator (PTX text) is built always.
# ADJOINT_CUDA_ROOT (default /usr/local/cuda or $CUDA_HOME) says where to look.
set(ADJOINT_CUDA AUTO CACHE STRING "Build the CUDA runtime: AUTO, ON or OFF")
set_property(CACHE ADJOINT_CUDA PROPERTY STRINGS AUTO ON OFF)
if(DEFINED ENV{CUDA_HOME})
  set(_adjoint_cuda_default $ENV{CUDA_HOME})
else()
  set(_adjoint_cuda_default /usr/local/cuda)
endif()
set(ADJOINT_CUDA_ROOT ${_adjoint_cuda_default} CACHE PATH "CUDA toolkit root")

set(ADJOINT_HAVE_CUDA OFF)
if(NOT ADJOINT_CUDA STREQUAL "OFF")
  find_path(ADJOINT_CUDA_INCLUDE_DIR cuda.h HINTS ${ADJOINT_CUDA_ROOT}/include NO_DEFAULT_PATH)
  find_path(ADJOINT_CUBLAS_INCLUDE_DIR cublas_v2.h HINTS ${ADJOINT_CUDA_ROOT}/include NO_DEFAULT_PATH)
  find_library(ADJOINT_CUDA_STUB cuda HINTS ${ADJOINT_CUDA_ROOT}/lib64/stubs ${ADJOINT_CUDA_ROOT}/lib/stubs NO_DEFAULT_PATH)
  find_library(ADJOINT_CUBLAS_LIBRARY cublas HINTS ${ADJOINT_CUDA_ROOT}/lib64 ${ADJOINT_CUDA_ROOT}/lib NO_DEFAULT_PATH)
  find_file(ADJOINT_CUDA_LIBDEVICE libdevice.10.bc HINTS ${ADJOINT_CUDA_ROOT}/nvvm/libdevice NO_DEFAULT_PATH)
  find_program(ADJOINT_PTXAS ptxas HINTS ${ADJOINT_CUDA_ROOT}/bin NO_DEFAULT_PATH)
  if(ADJOINT_CUDA_INCLUDE_DIR AND ADJOINT_CUBLAS_INCLUDE_DIR AND ADJOINT_CUDA_STUB AND ADJOINT_CUBLAS_LIBRARY)
    set(ADJOINT_HAVE_CUDA ON)
    message(STATUS "CUDA runtime: enabled (${ADJOINT_CUDA_ROOT})")
  elseif(ADJOINT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ADJOINT_CUDA=ON but the CUDA toolkit is incomplete under ${ADJOINT_CUDA_ROOT}: "
      "cuda.h=${ADJOINT_CUDA_INCLUDE_DIR} cublas_v2.h=${ADJOINT_CUBLAS_INCLUDE_DIR} "
      "libcuda stub=${ADJOINT_CUDA_STUB} libcublas=${ADJOINT_CUBLAS_LIBRARY}")
  else()
    message(STATUS "CUDA runtime: disabled (no CUDA toolkit under ${ADJOINT_CUDA_ROOT}; set ADJOINT_CUDA_ROOT)")
  endif()
else()
  find_file(ADJOINT_CUDA_LIBDEVICE libdevice.10.bc HINTS ${ADJOINT_CUDA_ROOT}/nvvm/libdevice NO_DEFAULT_PATH)
  find_program(ADJOINT_PTXAS ptxas HINTS ${ADJOINT_CUDA_ROOT}/bin NO_DEFAULT_PATH)
endif()
