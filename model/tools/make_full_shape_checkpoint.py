"""Writes a random-weight checkpoint at DeepSeek-V3.2's real layer shapes, in the released
Hugging Face layout: hidden 7168, 128 heads, q/kv latents 1536/512, indexer 64 heads x 128 with
top-k 2048, 256 routed experts of 2048 (8 active, 1 shared), vocab 129280, YaRN as published;
linear layers FP8 E4M3 with float32 scales per 128x128 block (`weight_scale_inv`), norms, router,
embedding and head in BF16 (the bias in F32), as the released files store them. Only the number
of layers differs (--layers, the first --dense of them dense), so that throughput measured on it
is the real per-layer cost. One shard per layer, written tensor by tensor (no whole-model copy in
memory); random values come from torch (on the GPU when there is one) or numpy.

usage: python3 model/tools/make_full_shape_checkpoint.py OUT_DIR [--layers N] [--dense M] [--seed S]
       [--test-shapes]
"""
import argparse
import json
import math
import os
import struct

import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch
except ImportError:  # numpy only: slower, same layout
    torch = None

CONFIG = {
    "architectures": ["DeepseekV32ForCausalLM"], "model_type": "deepseek_v32",
    "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
    "moe_intermediate_size": 2048, "num_attention_heads": 128, "num_key_value_heads": 128,
    "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
    "v_head_dim": 128, "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8,
    "n_group": 8, "topk_group": 4, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid",
    "topk_method": "noaux_tc", "norm_topk_prob": True, "rms_norm_eps": 1e-6, "rope_theta": 10000,
    "max_position_embeddings": 163840, "hidden_act": "silu", "tie_word_embeddings": False,
    "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                     "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
    "index_n_heads": 64, "index_head_dim": 128, "index_topk": 2048,
    "bos_token_id": 0, "eos_token_id": 1, "num_nextn_predict_layers": 0,
    "torch_dtype": "bfloat16", "attention_bias": False,
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                            "weight_block_size": [128, 128]},
}


# The same layout at small shapes, to check the files load where no GPU is (--test-shapes).
TEST_SHAPES = {"vocab_size": 300, "hidden_size": 256, "intermediate_size": 384,
               "moe_intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4,
               "q_lora_rank": 128, "kv_lora_rank": 64, "qk_nope_head_dim": 32,
               "qk_rope_head_dim": 16, "v_head_dim": 32, "n_routed_experts": 8,
               "num_experts_per_tok": 2, "n_group": 2, "topk_group": 1, "index_n_heads": 4,
               "index_head_dim": 32, "index_topk": 16, "max_position_embeddings": 8192}


def layer_tensors(c, i):
    """(name, shape, kind) of layer i; kind: fp8, norm, gate, bias."""
    d, H = c["hidden_size"], c["num_attention_heads"]
    nope, rope, vd = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    p, a = f"model.layers.{i}.", f"model.layers.{i}.self_attn."
    out = [(p + "input_layernorm.weight", (d,), "norm"),
           (p + "post_attention_layernorm.weight", (d,), "norm"),
           (a + "q_a_proj.weight", (c["q_lora_rank"], d), "fp8"),
           (a + "q_a_layernorm.weight", (c["q_lora_rank"],), "norm"),
           (a + "q_b_proj.weight", (H * (nope + rope), c["q_lora_rank"]), "fp8"),
           (a + "kv_a_proj_with_mqa.weight", (c["kv_lora_rank"] + rope, d), "fp8"),
           (a + "kv_a_layernorm.weight", (c["kv_lora_rank"],), "norm"),
           (a + "kv_b_proj.weight", (H * (nope + vd), c["kv_lora_rank"]), "fp8"),
           (a + "o_proj.weight", (d, H * vd), "fp8"),
           (a + "indexer.wq_b.weight", (c["index_n_heads"] * c["index_head_dim"], c["q_lora_rank"]), "fp8"),
           (a + "indexer.wk.weight", (c["index_head_dim"], d), "fp8"),
           (a + "indexer.k_norm.weight", (c["index_head_dim"],), "norm"),
           (a + "indexer.k_norm.bias", (c["index_head_dim"],), "bias"),
           (a + "indexer.weights_proj.weight", (c["index_n_heads"], d), "gate")]

    def mlp(prefix, inter):
        return [(prefix + "gate_proj.weight", (inter, d), "fp8"),
                (prefix + "up_proj.weight", (inter, d), "fp8"),
                (prefix + "down_proj.weight", (d, inter), "fp8")]
    if i < c["first_k_dense_replace"]:
        return out + mlp(p + "mlp.", c["intermediate_size"])
    m = c["moe_intermediate_size"]
    out += [(p + "mlp.gate.weight", (c["n_routed_experts"], d), "gate"),
            (p + "mlp.gate.e_score_correction_bias", (c["n_routed_experts"],), "bias32")]
    for e in range(c["n_routed_experts"]):
        out += mlp(p + f"mlp.experts.{e}.", m)
    return out + mlp(p + "mlp.shared_experts.", m * c["n_shared_experts"])


class Source:
    """Random tensors, returned as the raw bytes of their stored form."""

    def __init__(self, seed):
        self.dev = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
        if torch is not None:
            self.gen = torch.Generator(device=self.dev)
            self.gen.manual_seed(seed)
        else:
            self.rng = np.random.default_rng(seed)

    def normal(self, shape):
        if torch is not None:
            return torch.randn(shape, generator=self.gen, device=self.dev, dtype=torch.float32)
        return self.rng.standard_normal(shape, dtype=np.float32)

    def bf16(self, x):
        if torch is not None:
            return x.to(torch.bfloat16).view(torch.int16).cpu().numpy().tobytes()
        b = x.astype(np.float32).view(np.uint32)
        return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16).tobytes()

    def fp8(self, rows, cols):
        """E4M3 codes of N(0, 1/cols) weights and their per-block scales (weight = code * scale)."""
        # Codes drawn at unit scale x 64 (well inside E4M3's range), block scales around
        # 1 / (64 sqrt(cols)) with a spread, as quantized trained weights look.
        sr, sc = (rows + 127) // 128, (cols + 127) // 128
        if torch is not None:
            codes = (self.normal((rows, cols)) * 64).clamp_(-448, 448).to(torch.float8_e4m3fn)
            codes = codes.view(torch.uint8).cpu().numpy().tobytes()
            scales = (1.0 + 0.25 * torch.rand((sr, sc), generator=self.gen, device=self.dev)) / (64 * math.sqrt(cols))
            return codes, scales.float().cpu().numpy().tobytes()
        from st_io import fp8_block_quantize  # numpy's E4M3 encoder: slow, for --test-shapes
        codes, scales = fp8_block_quantize(self.normal((rows, cols)) / np.float32(math.sqrt(cols)))
        return codes.tobytes(), scales.astype(np.float32).tobytes()


def stored(kind, shape):
    if kind == "fp8":
        return [("F8_E4M3", shape, "codes"),
                ("F32", ((shape[0] + 127) // 128, (shape[1] + 127) // 128), "scales")]
    return [("F32" if kind == "bias32" else "BF16", shape, "plain")]


NBYTES = {"F8_E4M3": 1, "BF16": 2, "F32": 4}


def write_shard(path, tensors, src):
    """tensors: [(name, shape, kind)]; writes the header first, then each tensor's bytes."""
    header, order, offset = {}, [], 0
    for name, shape, kind in tensors:
        for dtype, sshape, part in stored(kind, shape):
            tname = name + "_scale_inv" if part == "scales" else name
            n = int(np.prod(sshape)) * NBYTES[dtype]
            header[tname] = {"dtype": dtype, "shape": list(sshape), "data_offsets": [offset, offset + n]}
            offset += n
        order.append((name, shape, kind))
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, kind in order:
            if kind == "fp8":
                codes, scales = src.fp8(*shape)
                f.write(codes)
                f.write(scales)
            elif kind == "norm":
                f.write(src.bf16(1.0 + 0.1 * src.normal(shape)))
            elif kind in ("bias", "bias32"):
                x = 0.05 * src.normal(shape)
                f.write(src.bf16(x) if kind == "bias" else
                        (x.cpu().numpy() if torch is not None else x).astype(np.float32).tobytes())
            else:  # gate, embed, head: N(0, 1/cols) in bf16
                f.write(src.bf16(src.normal(shape) / math.sqrt(shape[1])))
    return offset


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dense", type=int, default=1, help="how many of the first layers are dense")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-shapes", action="store_true", help="small shapes, same layout")
    args = ap.parse_args()
    if args.layers < 1 or not 0 <= args.dense <= args.layers:
        ap.error("need --layers >= 1 and 0 <= --dense <= --layers")
    c = dict(CONFIG, num_hidden_layers=args.layers, first_k_dense_replace=args.dense)
    if args.test_shapes:
        c.update(TEST_SHAPES)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    src = Source(args.seed)
    d, V = c["hidden_size"], c["vocab_size"]
    shards = [[("model.embed_tokens.weight", (V, d), "gate")]]
    shards += [layer_tensors(c, i) for i in range(args.layers)]
    shards.append([("model.norm.weight", (d,), "norm"), ("lm_head.weight", (V, d), "gate")])
    weight_map, total = {}, 0
    for k, tensors in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        total += write_shard(os.path.join(args.out_dir, fname), tensors, src)
        for name, _, kind in tensors:
            weight_map[name] = fname
            if kind == "fp8":
                weight_map[name + "_scale_inv"] = fname
        print(f"wrote {fname} ({total / 1e9:.1f} GB so far)", flush=True)
    with open(os.path.join(args.out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    print(f"{args.out_dir}: {args.layers} layers ({args.dense} dense), {total / 1e9:.1f} GB")


if __name__ == "__main__":
    main()
