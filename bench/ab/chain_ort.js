#!/usr/bin/env node
// Times ONNX Runtime (CPU, graph optimisation 'all', no profiler) on a model of one input, such as
// the block chains bench/ab/chain_export.py writes: ROUNDS rounds of RUNS runs, then the median of
// the rounds' mean milliseconds per run. Set beside bench/ab/chain.cpp on the same chain.
//
//   NODE_PATH=/tmp/joule-peers/ort/node_modules node bench/ab/chain_ort.js MODEL.onnx [ROUNDS] [RUNS]
//   ORT_THREADS=1 ...                                                      # one thread (default 2)
//   PROFILE=1 ...   # instead, each node's mean milliseconds a run from ONNX Runtime's profiler
//                   # (which adds to every node: compare nodes, not totals, with it)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [file, roundsArg = '15', runsArg = '20'] = process.argv.slice(2);
  if (!file) throw new Error('usage: chain_ort.js MODEL.onnx [ROUNDS] [RUNS]');
  const rounds = parseInt(roundsArg, 10), runs = parseInt(runsArg, 10);
  const profile = process.env.PROFILE === '1';
  const dir = profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'chain-profile-')) : null;
  const sess = await ort.InferenceSession.create(file, {
    executionProviders: ['cpu'], intraOpNumThreads: parseInt(process.env.ORT_THREADS || '2', 10),
    interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', enableCpuMemArena: true,
    enableProfiling: profile, profileFilePrefix: profile ? path.join(dir, 'chain') : undefined,
  });
  const meta = sess.inputMetadata ? sess.inputMetadata[0] : null;
  const dims = meta && meta.shape ? meta.shape : JSON.parse(process.env.SHAPE || 'null');
  if (!dims) throw new Error('input shape unknown: set SHAPE=[1,1024,14,14]');
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => Math.random());
  const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 5; ++i) await sess.run(feeds);
  if (profile) {
    const runs_ = rounds * runs;
    for (let i = 0; i < runs_; ++i) await sess.run(feeds);
    await sess.release();  // writes the profile
    const json = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    const nodes = new Map();
    for (const e of JSON.parse(fs.readFileSync(path.join(dir, json)))) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const key = `${e.args.op_name} ${e.name.replace(/_kernel_time$/, '')}`;
      nodes.set(key, (nodes.get(key) || 0) + e.dur);
    }
    // The warm-up runs are in the profile too: (5 + runs_) runs in all.
    for (const [key, us] of nodes) console.log(`${(us / 1000 / (5 + runs_)).toFixed(3)}  ${key}`);
    return;
  }
  const means = [];
  for (let r = 0; r < rounds; ++r) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < runs; ++i) await sess.run(feeds);
    means.push(Number(process.hrtime.bigint() - start) / 1e6 / runs);
  }
  means.sort((a, b) => a - b);
  console.log(`onnxruntime ${file}: ${means[Math.floor(rounds / 2)].toFixed(3)} ms a run (median of ${rounds} rounds of ${runs})`);
}
main().catch((e) => { console.error(e); process.exit(1); });
