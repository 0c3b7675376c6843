#include "OnnxSplice.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>
#include <unistd.h>

namespace adjoint::aot {

namespace {

struct Field {
  uint32_t number = 0, wire = 0;
  uint64_t varint = 0;     // wire 0
  std::string_view body;   // wire 2: the payload; others: the value's bytes
  std::string_view whole;  // the field as encoded, key included
};

class WireReader {
public:
  WireReader(std::string_view s, const std::string &what) : s_(s), what_(what) {}
  bool next(Field &f) {
    if (at_ == s_.size())
      return false;
    size_t start = at_;
    uint64_t key = varint();
    f.number = (uint32_t)(key >> 3);
    f.wire = (uint32_t)(key & 7);
    switch (f.wire) {
    case 0: f.varint = varint(); break;
    case 1: f.body = take(8); break;
    case 5: f.body = take(4); break;
    case 2: {
      uint64_t n = varint();
      if (n > s_.size() - at_)
        bad();
      f.body = take((size_t)n);
      break;
    }
    default: bad();
    }
    f.whole = s_.substr(start, at_ - start);
    return true;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ == s_.size())
        bad();
      uint8_t b = (uint8_t)s_[at_++];
      v |= (uint64_t)(b & 0x7f) << shift;
      if (!(b & 0x80))
        return v;
    }
    bad();
  }
  bool done() const { return at_ == s_.size(); }

private:
  std::string_view take(size_t n) {
    if (n > s_.size() - at_)
      bad();
    std::string_view v = s_.substr(at_, n);
    at_ += n;
    return v;
  }
  [[noreturn]] void bad() const {
    throw std::runtime_error(what_ + ": the embedded ONNX model is not valid protobuf");
  }
  std::string_view s_;
  const std::string &what_;
  size_t at_ = 0;
};

void putVarint(std::string &out, uint64_t v) {
  while (v >= 0x80) {
    out += (char)(uint8_t)(v | 0x80);
    v >>= 7;
  }
  out += (char)(uint8_t)v;
}

void putBytes(std::string &out, uint32_t number, std::string_view body) {
  putVarint(out, (uint64_t)number << 3 | 2);
  putVarint(out, body.size());
  out.append(body.data(), body.size());
}

struct InitializerInfo {
  std::string name;
  int32_t dtype = 0;
  std::vector<int64_t> dims;
  bool external = false;
};

InitializerInfo readInitializer(std::string_view bytes, const std::string &what) {
  InitializerInfo t;
  WireReader r(bytes, what);
  for (Field f; r.next(f);) {
    if (f.number == 1 && f.wire == 0) {
      t.dims.push_back((int64_t)f.varint);
    } else if (f.number == 1 && f.wire == 2) { // packed dims
      WireReader p(f.body, what);
      while (!p.done())
        t.dims.push_back((int64_t)p.varint());
    } else if (f.number == 2 && f.wire == 0) {
      t.dtype = (int32_t)f.varint;
    } else if (f.number == 8 && f.wire == 2) {
      t.name = std::string(f.body);
    } else if (f.number == 14 && f.wire == 0) {
      t.external = f.varint == 1;
    }
  }
  return t;
}

std::string tensorProto(const std::string &name, const SpliceTensor &t) {
  std::string out;
  for (int64_t d : t.shape) {
    putVarint(out, 1 << 3 | 0);
    putVarint(out, (uint64_t)d);
  }
  putVarint(out, 2 << 3 | 0);
  putVarint(out, (uint64_t)t.dtype);
  putBytes(out, 8, name);
  putBytes(out, 9, std::string_view(static_cast<const char *>(t.data), t.bytes));
  return out;
}

std::string spliceGraph(std::string_view graph, const std::map<std::string, SpliceTensor> &tensors,
                        std::set<std::string> &done, const std::string &what) {
  std::string out;
  WireReader r(graph, what);
  for (Field f; r.next(f);) {
    if (f.number != 5 || f.wire != 2) {
      out.append(f.whole.data(), f.whole.size());
      continue;
    }
    InitializerInfo init = readInitializer(f.body, what);
    auto it = tensors.find(init.name);
    if (it == tensors.end()) {
      if (init.external)
        throw std::runtime_error(what + ": initializer '" + init.name +
                                 "' keeps its data in an external file, which the exported "
                                 "model would not find");
      out.append(f.whole.data(), f.whole.size());
      continue;
    }
    const SpliceTensor &t = it->second;
    if (init.dtype != t.dtype || init.dims != t.shape)
      throw std::runtime_error(what + ": parameter '" + init.name +
                               "' does not match its initializer's type or shape");
    putBytes(out, 5, tensorProto(init.name, t));
    done.insert(init.name);
  }
  return out;
}

} // namespace

std::string spliceInitializers(const std::string &model,
                               const std::map<std::string, SpliceTensor> &tensors,
                               const std::string &what) {
  std::string out;
  std::set<std::string> done;
  bool graph = false;
  WireReader r(model, what);
  for (Field f; r.next(f);) {
    if (f.number == 7 && f.wire == 2) {
      putBytes(out, 7, spliceGraph(f.body, tensors, done, what));
      graph = true;
    } else {
      out.append(f.whole.data(), f.whole.size());
    }
  }
  if (!graph)
    throw std::runtime_error(what + ": the embedded ONNX model has no graph");
  for (const auto &kv : tensors)
    if (!done.count(kv.first))
      throw std::runtime_error(what + ": parameter '" + kv.first + "' names no initializer");
  return out;
}

void writeFileAtomically(const std::string &path, const std::string &bytes) {
  std::string tmp = path + ".tmp" + std::to_string((long long)getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), (std::streamsize)bytes.size());
    out.flush();
    if (!out.good()) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot write '" + path + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "'");
  }
}

} // namespace adjoint::aot
