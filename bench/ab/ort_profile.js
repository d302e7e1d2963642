#!/usr/bin/env node
// ONNX Runtime's own per-node times on one model (its session profiler), to set beside joule's
// layers (bench/ab/resnet50_layers.cpp): runs the model RUNS times with profiling on and prints
// each node's mean milliseconds per run, in execution order, with its op and output shape, then
// the total per op type. The profiler's own bookkeeping adds to every node (its ResNet-50 total
// at batch 1 read 24.8 ms where unprofiled runs took 21.9): compare layers with each other, and
// quote the unprofiled timings (scripts/vs-ort-rounds.sh) for the model.
//
//   NODE_PATH=/tmp/joule-peers/ort/node_modules node bench/ab/ort_profile.js resnet50 1 30
//   NODE_PATH=/tmp/joule-peers/ort/node_modules node bench/ab/ort_profile.js bert_base 8 5
//   ORT_THREADS=1 NODE_PATH=... node bench/ab/ort_profile.js resnet50 1 10    # one thread (default 2)
//
// Needs the models and onnxruntime-node that ../shared/peers/run-ort.sh sets up in /tmp/joule-peers.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [model = 'resnet50', batchArg = '1', runsArg = '30'] = process.argv.slice(2);
  const batch = parseInt(batchArg, 10), runs = parseInt(runsArg, 10);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-profile-'));
  const sess = await ort.InferenceSession.create(`/tmp/joule-peers/models/${model}.onnx`, {
    executionProviders: ['cpu'], intraOpNumThreads: parseInt(process.env.ORT_THREADS || '2', 10), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', enableCpuMemArena: true, enableProfiling: true,
    profileFilePrefix: path.join(dir, model),
  });
  // An image model takes one [batch, 3, 224, 224] input; BERT takes token ids and a mask, 128 each.
  const feeds = {};
  if (sess.inputNames.includes('input_ids')) {
    const tokens = batch * 128;
    const ids = BigInt64Array.from({ length: tokens }, () => BigInt(1000 + Math.floor(Math.random() * 20000)));
    feeds.input_ids = new ort.Tensor('int64', ids, [batch, 128]);
    if (sess.inputNames.includes('attention_mask'))
      feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(tokens).fill(1n), [batch, 128]);
  } else if (sess.inputNames.length === 1) {
    const data = new Float32Array(batch * 3 * 224 * 224).map(() => Math.random());
    feeds[sess.inputNames[0]] = new ort.Tensor('float32', data, [batch, 3, 224, 224]);
  } else {
    throw new Error(`${model}: inputs ${sess.inputNames.join(', ')} are neither one image nor BERT's`);
  }
  for (let i = 0; i < runs; ++i) await sess.run(feeds);
  await sess.release();  // writes the profile
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
  if (!file) throw new Error(`no profile written in ${dir}`);
  const events = JSON.parse(fs.readFileSync(path.join(dir, file)));
  const nodes = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    const node = nodes.get(name) || { us: 0, op: e.args.op_name, shape: JSON.stringify(e.args.output_type_shape) };
    node.us += e.dur;
    nodes.set(name, node);
  }
  const byOp = new Map();
  let total = 0;
  for (const [name, n] of nodes) {
    const ms = n.us / runs / 1000;
    console.log(`${ms.toFixed(3).padStart(8)}  ${n.op.padEnd(18)} ${name}  ${n.shape}`);
    byOp.set(n.op, (byOp.get(n.op) || 0) + ms);
    total += ms;
  }
  console.log(`total ${total.toFixed(2)} ms per run (${runs} runs, batch ${batch}); by op:`);
  for (const [op, ms] of byOp) console.log(`  ${op.padEnd(18)} ${ms.toFixed(2)} ms`);
  fs.rmSync(dir, { recursive: true, force: true });
}
main().catch((e) => { console.error(e.message); process.exit(1); });
