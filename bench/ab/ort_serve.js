#!/usr/bin/env node
// ONNX Runtime's side of scripts/vs-ort-paired.sh: one session on MODEL at BATCH, with the session
// options and inputs of ../shared/peers/bench_ort.js, run once for each line read on stdin; each
// run's milliseconds are printed on a line of their own. Prints "ready" after two warm-up runs.
// ORT_SPIN=0 turns off the intra-op threads' spinning (session.intra_op.allow_spinning), which
// otherwise goes on for 40-50 ms after each run (scripts/vs-ort-paired.sh); ORT_SPIN=stop keeps it
// within a run and stops it when the run ends (session.force_spinning_stop, ONNX Runtime's own
// answer to the same cost: microsoft/onnxruntime#11841), as joule's thread_pool::busy_scope does.
//
//   NODE_PATH=/tmp/joule-peers/ort/node_modules node bench/ab/ort_serve.js resnet50 1 [THREADS]
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const ort = require('onnxruntime-node');

// bench_ort.js's inputs: a linear congruential generator, so both scripts feed the same values.
function lcg(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}

function makeFeeds(meta, batch) {
  const feeds = {};
  const rnd = lcg(123);
  for (const inp of meta.inputs) {
    const shape = inp.ref_shape.slice();
    shape[0] = batch;
    const n = shape.reduce((a, b) => a * b, 1);
    if (inp.dtype === 'float32') {
      feeds[inp.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => rnd() * 2 - 1), shape);
    } else if (inp.name === 'attention_mask') {
      feeds[inp.name] = new ort.Tensor('int64', new BigInt64Array(n).fill(1n), shape);
    } else {
      feeds[inp.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rnd() * 30522))), shape);
    }
  }
  return feeds;
}

async function main() {
  const [model, batchArg, threadsArg = '2'] = process.argv.slice(2);
  const dir = '/tmp/joule-peers/models';
  const meta = JSON.parse(fs.readFileSync(path.join(dir, `${model}.meta.json`)));
  const sess = await ort.InferenceSession.create(path.join(dir, `${model}.onnx`), {
    executionProviders: ['cpu'], intraOpNumThreads: parseInt(threadsArg, 10), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all', enableCpuMemArena: true,
    ...(process.env.ORT_SPIN === '0' ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    ...(process.env.ORT_SPIN === 'stop' ? { extra: { session: { force_spinning_stop: '1' } } } : {}),
  });
  const feeds = makeFeeds(meta, parseInt(batchArg, 10));
  const run = async () => {
    const start = process.hrtime.bigint();
    await sess.run(feeds);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  await run();
  await run();
  console.log('ready');
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    console.log((await run()).toFixed(3));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
