// The ONNX Runtime side of bench/run's inference column: the forward pass of one model with
// onnxruntime-node (its bundled CPU library), timed as adjoint-bench times it, one JSON line.
//
//   node ort_infer.js MODEL.onnx --batch N --threads T [--warmup W --rounds R --steps K]
// NODE_PATH must reach the node_modules that holds onnxruntime-node (bench/run sets it).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function args() {
  const a = { warmup: 3, rounds: 5, steps: 10 };
  const argv = process.argv.slice(2);
  a.model = argv[0];
  for (let i = 1; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = Number(argv[i + 1]);
  if (!a.model || !a.batch || !a.threads) throw new Error('usage: ort_infer.js MODEL --batch N --threads T');
  return a;
}

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function peakKiB() {
  const m = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : -1;
}

async function main() {
  const a = args();
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const meta = session.inputNames[0];
  // Shapes of the four bench models' inputs: the batch, then the example's dimensions.
  const dims = { input784: [784] };
  let shape, data;
  if (/transformer/.test(a.model)) {
    shape = [a.batch, 64];
    data = new ort.Tensor('int64', BigInt64Array.from({ length: a.batch * 64 }, (_, i) => BigInt(i % 10)), shape);
  } else {
    const ex = /resnet/.test(a.model) ? [3, 32, 32] : /lenet/.test(a.model) ? [1, 28, 28] : dims.input784;
    shape = [a.batch, ...ex];
    const n = shape.reduce((p, q) => p * q, 1);
    data = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => (i % 97) / 97), shape);
  }
  const feeds = { [meta]: data };
  for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
  const all = [], rounds = [], cpu = [];
  for (let r = 0; r < a.rounds; ++r) {
    const t = [];
    for (let i = 0; i < a.steps; ++i) {
      // Process CPU time (all threads): ORT runs the session on a worker thread.
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1e3);
    }
    rounds.push(median(t));
    all.push(...t);
  }
  const med = median(all);
  console.log(JSON.stringify({
    mode: 'infer', batch: a.batch, threads: a.threads, median_ms: med, min_ms: Math.min(...all),
    cpu_ms: median(cpu),
    spread_pct: 100 * (Math.max(...rounds) - Math.min(...rounds)) / med, steps: all.length,
    peak_rss_kib: peakKiB(),
  }));
}

main().catch((e) => { console.error(`ort_infer.js: ${e.message}`); process.exit(1); });
