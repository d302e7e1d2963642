#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora under tests/fuzz/corpus/<target>/: small valid inputs and
near-valid ones (one field off), so libFuzzer starts next to the formats' edges rather than at
random bytes. Standard library only. Run from the repository root: python3 tools/make_fuzz_corpus.py"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(header, data, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def npy(header, data, major=1):
    text = header.encode()
    pre = 6 + 2 + (2 if major == 1 else 4)
    total = (pre + len(text) + 1 + 63) // 64 * 64
    text += b" " * (total - pre - len(text) - 1) + b"\n"
    length = struct.pack("<H", len(text)) if major == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([major, 0]) + length + text + data


def wisdom_hash(key):
    """joule::tuning::hash_of: FNV-1a 64 of the key's JSON with sorted keys, as nlohmann dumps it."""
    h = 0xcbf29ce484222325
    for c in json.dumps(key, sort_keys=True, separators=(",", ":")).encode():
        h = ((h ^ c) * 0x100000001b3) % (1 << 64)
    return "%016x" % h


def main():
    f32 = struct.pack("<6f", 0.5, -1, 2.25, 3, -0.0, 65504)
    # safetensors: valid files of every dtype, then one defect each.
    put("safetensors", "valid_f32", safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, f32))
    put("safetensors", "valid_mixed", safetensors(
        {"__metadata__": {"format": "pt"},
         "w": {"dtype": "F32", "shape": [2, 1], "data_offsets": [0, 8]},
         "n": {"dtype": "I64", "shape": [], "data_offsets": [8, 16]},
         "b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]},
         "h": {"dtype": "F16", "shape": [3], "data_offsets": [20, 26]},
         "z": {"dtype": "F32", "shape": [0, 3], "data_offsets": [26, 26]}},
        struct.pack("<2fq2H3H", 1.5, -2, 7, 0x3F80, 0xFF80, 0x3C00, 0x0001, 0x7E00)))
    put("safetensors", "unaligned_f32", safetensors({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                                                    struct.pack("<f", 1), pad=False))
    put("safetensors", "empty", b"")
    put("safetensors", "truncated_length", b"\x10\x00\x00")
    put("safetensors", "header_past_end", struct.pack("<Q", 1 << 20) + b"{}")
    put("safetensors", "bad_json", struct.pack("<Q", 8) + b'{"w": [ ')
    put("safetensors", "overlap", safetensors(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)))
    put("safetensors", "offset_out_of_range",
        safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 4000]}}, f32))
    put("safetensors", "wrong_shape", safetensors({"w": {"dtype": "F32", "shape": [4, 3], "data_offsets": [0, 24]}}, f32))
    put("safetensors", "unknown_dtype", safetensors({"w": {"dtype": "Q7", "shape": [6], "data_offsets": [0, 24]}}, f32))
    put("safetensors", "negative_dim", safetensors({"w": {"dtype": "F32", "shape": [-2, -3], "data_offsets": [0, 24]}}, f32))
    put("safetensors", "huge_shape", safetensors(
        {"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 8], "data_offsets": [0, 24]}}, f32))

    # npy: every dtype joule reads, versions 1 to 3, then one defect each.
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }"
    put("npy", "f4_2x3", npy(hdr % ("<f4", "(2, 3)"), f32))
    put("npy", "f8_3", npy(hdr % ("<f8", "(3,)"), struct.pack("<3d", 1, -2, 3.5)))
    put("npy", "f2_2", npy(hdr % ("<f2", "(2,)"), struct.pack("<2H", 0x3C00, 0x7E00)))
    put("npy", "i8_3", npy(hdr % ("<i8", "(3,)"), struct.pack("<3q", -1, 0, 9007199254740993)))
    put("npy", "i4_scalar", npy(hdr % ("<i4", "()"), struct.pack("<i", 7)))
    put("npy", "u1_v2", npy(hdr % ("|u1", "(4,)"), bytes([0, 1, 2, 255]), major=2))
    put("npy", "b1_v3", npy("{\"descr\": \"|b1\", \"shape\": (2,), \"fortran_order\": False}", bytes([0, 1]), major=3))
    put("npy", "empty_dim", npy(hdr % ("<f4", "(0, 5)"), b""))
    put("npy", "truncated_data", npy(hdr % ("<f4", "(2, 3)"), f32[:10]))
    put("npy", "trailing_bytes", npy(hdr % ("<f4", "(2,)"), f32))
    put("npy", "big_endian", npy(hdr % (">f4", "(2,)"), f32[:8]))
    put("npy", "fortran", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f32))
    put("npy", "object", npy(hdr % ("|O", "(1,)"), bytes(8)))
    put("npy", "int_shape", npy(hdr % ("<f4", "(6)"), f32))
    put("npy", "huge_shape", npy(hdr % ("<f4", "(9223372036854775807, 2)"), f32))
    put("npy", "rank9", npy(hdr % ("<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), f32[:4]))
    put("npy", "bad_magic", b"\x93NUMPZ\x01\x00" + bytes(8))
    put("npy", "header_past_end", b"\x93NUMPY\x01\x00\xff\xff{'descr'")

    # wisdom: a valid file with one entry, then near-valid ones.
    machine = {"cpu_model": "AMD EPYC", "cpu_flags": "avx2 fma", "cores": 2, "gpu_model": "none",
               "gpu_driver": "none", "joule_version": "0.1.0", "blas_library": "OpenBLAS 0.3.21",
               "blas_kernel": "Haswell", "simd_arch": "avx2", "compiler": "gcc 12.2.0"}
    key = {"machine": machine, "model": "resnet50", "config_hash": "0123456789abcdef", "input": "1x3x224x224",
           "batch": 1, "dtype": "float32", "policy": "simd", "threads": 1, "meter_kind": "estimated"}
    result = {"median_s": 0.02, "p95_s": 0.025, "mean_s": 0.021, "joules_per_run": 0.5, "joules_ci95": 0.01,
              "watts": 25.0, "kind": "estimated", "meter": "estimate", "flops_per_run": 8.2e9, "runs": 40,
              "seconds": 2.0, "stop_reason": "confidence reached"}
    gate = {"reference": "scalar/1", "max_error": 1e-6, "tolerance": 1e-3, "detail": ""}
    entry = {"key": key, "result": result, "gate": gate, "recorded_at": "2026-12-01T00:00:00Z"}
    doc = {"format_version": 1, "generator": "joule 0.1.0", "entries": {wisdom_hash(key): entry}}
    put("wisdom", "one_entry", json.dumps(doc, indent=1))
    put("wisdom", "one_entry_wrong_hash", json.dumps(doc).replace(wisdom_hash(key), "00000000deadbeef"))
    put("wisdom", "empty_entries", json.dumps({"format_version": 1, "generator": "joule 0.1.0", "entries": {}}))
    put("wisdom", "format_2", json.dumps({"format_version": 2, "entries": {}}))
    put("wisdom", "not_json", "{\"format_version\": 1, \"entries\": {")
    put("wisdom", "huge_runs", json.dumps(doc).replace('"runs": 40', '"runs": 1e300'))
    put("wisdom", "null_key", json.dumps(doc).replace('"model": "resnet50"', '"model": null'))
    put("wisdom", "empty", "")

    # command lines: one argument per line.
    put("run_cli", "resnet_simd", "--model\nresnet50\n--policy\nsimd\n--batch\n1\n--threads\n2\n")
    put("run_cli", "bert", "--model=bert-base\n--policy=blas\n--seq-len\n16\n--repeat\n3\n--seed\n42\n")
    put("run_cli", "bad_policy", "--policy\nquantum\n")
    put("run_cli", "bad_range", "--batch\n0\n--image-size\n99999999999999999999\n")
    put("run_cli", "missing_file", "--weights\n/nonexistent/w.safetensors\n")
    put("run_cli", "help", "--help\n")
    put("shootout_cli", "small", "--model\nresnet50,bert-base\n--small\n--policies\nscalar,simd\n--threads\n1,2\n")
    put("shootout_cli", "objective", "--objective\nenergy@p95<=20ms\n--budget\n0.5\n")
    put("shootout_cli", "bad_objective", "--objective\nenergy@p95<=-3us\n")
    put("shootout_cli", "estimate", "--estimate\nmax_watts_per_cpu=4.2,min_watts_per_cpu=1,cpus_reserved=2\n")
    put("shootout_cli", "bad_estimate", "--estimate\nmax_watts_per_cpu=,cpus_reserved=nan\n")
    put("shootout_cli", "sci", "--grid-intensity\n300\n--embodied-kg\n1500\n--lifetime-years\n5\n--resource-share\n0.5\n")
    put("shootout_cli", "excludes", "--retune\n--wisdom-only\n")
    put("shootout_cli", "bad_plot", "--plot\nchart.jpg\n")


if __name__ == "__main__":
    main()
