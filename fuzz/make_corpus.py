#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target under fuzz/corpus/<target>/ (small valid and
invalid inputs, mostly taken from the unit tests). The schema_json seeds come from the
schema_samples tool of the default build:

    build/bin/schema_samples /tmp/samples && fuzz/make_corpus.py --samples /tmp/samples

Rewrites only the files it generates; regression inputs (crash-*, regression-*) are kept."""
import argparse
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- multipart: "<Content-Type>\n<body>" ------------------------------------------------------
def multipart():
    b = "----loraplane7MA4YWxkTrZu0gW"
    ct = "multipart/form-data; boundary=" + b
    ct_odd = ct + " "  # odd length: the target's small limits

    def part(headers, data):
        return "--" + b + "\r\n" + headers + "\r\n\r\n" + data + "\r\n"

    def field(name, value):
        return part('Content-Disposition: form-data; name="%s"' % name, value)

    def file(name, filename, data):
        return part('Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
                    "Content-Type: application/octet-stream" % (name, filename), data)

    close = "--" + b + "--\r\n"
    tricky = ("\r\n-" + b + "\r\r\n--" + b[:10] + "\n--" + b + "--" + b + "\r\n-\r\n--"
              + "\0\xff\r" + "\r\n--" + b[:-1] + "\r")
    upload = (field("name", "support-bot") + field("base_model", "llama-3.1-8b-instruct")
              + field("lora_alpha", "16")
              + field("config", '{"peft_type":"LORA","r":8,"target_modules":["q_proj"]}')
              + file("file", "adapter_model.safetensors", "\x10\0\0\0\0\0\0\0{\"__metadata__\":{}}")
              + close)
    seeds = {
        "upload": ct + "\n" + upload,
        "upload-small-limits": ct_odd + "\n" + upload,
        "tricky-data": ct + "\n" + file("file", "a.bin", tricky) + close,
        "preamble-epilogue": ct + "\npreamble text\r\n" + field("a", "1") + close + "epilogue",
        "padding": ct + "\n--" + b + " \t\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n"
                   + close,
        "filename-star": ct + "\n" + part("Content-Disposition: form-data; name=file; "
                                          "filename*=UTF-8''na%C3%AFve.bin", "x") + close,
        "quoted-escapes": 'multipart/form-data; boundary="' + b + '"; charset=utf-8\n'
                          + part('content-disposition: form-data; name="a\\"b"; filename=""',
                                 "") + close,
        # A Content-Type length divisible by 3: the callback refuses the part named "stop".
        "stop-callback": "multipart/form-data; boundary=xyz   \n--xyz\r\nContent-Disposition: "
                         "form-data; name=stop\r\n\r\ndata\r\n--xyz--",
        "no-close": ct + "\n" + field("name", "x"),
        "bad-header": ct + "\n--" + b + "\r\nContent-Disposition form-data\r\n\r\nx\r\n" + close,
        "folded-header": ct + "\n--" + b + "\r\nContent-Disposition: form-data;\r\n name=a\r\n"
                         "\r\nx\r\n" + close,
        "two-dispositions": ct + "\n" + part("Content-Disposition: form-data; name=a\r\n"
                                             "Content-Disposition: form-data; name=b", "x") + close,
        "not-form-data": "text/plain; boundary=abc\n--abc\r\n\r\n--abc--",
        "many-parts": ct_odd + "\n" + "".join(field("f%d" % i, "v") for i in range(5)) + close,
        "long-field": ct_odd + "\n" + field("name", "x" * 40) + close,
        "empty-body": ct + "\n",
        "boundary-70": "multipart/form-data; boundary=" + "a" * 70 + "\n--" + "a" * 70 + "--",
    }
    for name, text in seeds.items():
        put("multipart", name, text.encode("latin-1"))


# ---- safetensors: file bytes --------------------------------------------------------------------
TOY = dict(hidden=64, attention=64, kv=32, intermediate=160)
L8B = dict(hidden=4096, attention=4096, kv=1024, intermediate=14336)
MODULES = [("q_proj", "self_attn", "hidden", "attention"), ("k_proj", "self_attn", "hidden", "kv"),
           ("v_proj", "self_attn", "hidden", "kv"), ("o_proj", "self_attn", "attention", "hidden"),
           ("gate_proj", "mlp", "hidden", "intermediate"), ("up_proj", "mlp", "hidden", "intermediate"),
           ("down_proj", "mlp", "intermediate", "hidden")]
BITS = {"F16": 16, "BF16": 16, "F32": 32, "I8": 8, "F4": 4, "U64": 64}


def lora_tensors(dims, rank, layers, modules, prefix="base_model.model.", dtype="BF16"):
    out = []
    for layer in layers:
        for name, parent, i, o in MODULES:
            if name not in modules:
                continue
            path = "%smodel.layers.%d.%s.%s" % (prefix, layer, parent, name)
            out.append((path + ".lora_A.weight", dtype, [rank, dims[i]]))
            out.append((path + ".lora_B.weight", dtype, [dims[o], rank]))
    return out


def header(tensors, metadata={"format": "pt"}):
    h = {}
    if metadata is not None:
        h["__metadata__"] = metadata
    off = 0
    for name, dtype, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        size = n * BITS[dtype] // 8
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + size]}
        off += size
    return json.dumps(h, separators=(",", ":")), off


def frame(text):
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def safetensors():
    def whole(tensors, **kw):
        text, size = header(tensors, **kw)
        return frame(text) + b"\0" * size

    toy = lora_tensors(TOY, 4, [0, 1], ["q_proj", "v_proj"])
    seeds = {
        "toy-q-v-rank4": whole(toy),
        "toy-all-modules-rank8": whole(lora_tensors(TOY, 8, [3], [m[0] for m in MODULES])),
        "toy-no-prefix-f32": whole(lora_tensors(TOY, 2, [0], ["o_proj"], prefix="", dtype="F32")),
        "toy-truncated-data": whole(toy)[:-5],
        "toy-trailing-bytes": whole(toy) + b"xx",
        "8b-rank16-header-only": frame(header(lora_tensors(L8B, 16, [0, 31], ["q_proj", "k_proj",
                                                                            "v_proj", "o_proj"]))[0]),
        "8b-rank-mismatch": frame(header(lora_tensors(L8B, 16, [0], ["q_proj"])
                                         + lora_tensors(L8B, 8, [1], ["q_proj"]))[0]),
        "8b-missing-b": frame(header(lora_tensors(L8B, 8, [0], ["q_proj"])[:1])[0]),
        "layer-out-of-range": frame(header(lora_tensors(TOY, 4, [99], ["q_proj"]))[0]),
        "dora-magnitude": frame(header([("base_model.model.model.layers.0.self_attn.q_proj."
                                         "lora_magnitude_vector", "BF16", [64])])[0]),
        "empty-object": frame("{}"),
        "only-metadata": frame('{"__metadata__":{"a":"b","c":"d"}}'),
        "zero-size-tensors": frame('{"a":{"dtype":"F16","shape":[0],"data_offsets":[0,0]},'
                                   '"b":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}'),
        "gap": frame('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'),
        "overlap": frame('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                         '"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'),
        "duplicate-name": frame('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'),
        "duplicate-metadata": frame('{"__metadata__":{"k":"1","k":"2"}}'),
        "shape-overflow": frame('{"a":{"dtype":"U64","shape":[281474976710655,281474976710655,'
                                '281474976710655],"data_offsets":[0,8]}}'),
        "odd-bits": frame('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}'),
        "bad-dtype": frame('{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}'),
        "negative-offset": frame('{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}'),
        "too-deep": frame('{"a":{"dtype":"U8","shape":[[1]],"data_offsets":[0,1]}}'),
        "length-too-big": struct.pack("<Q", 200_000_000) + b"{}",
        "length-1": struct.pack("<Q", 1) + b"{",
        "short-prefix": b"\x02\0\0",
        "not-json": frame("{nope}"),
        "escaped-name": frame('{"a\\u0000\\n\'b":{"dtype":"I8","shape":[],"data_offsets":[0,1]}}'),
    }
    for name, data in seeds.items():
        put("safetensors", name, data)


# ---- adapter_config.json ------------------------------------------------------------------------
def adapter_config():
    seeds = {
        "peft-typical": {"peft_type": "LORA", "r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
                         "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
                         "base_model_name_or_path": "meta-llama/Llama-3.1-8B-Instruct",
                         "task_type": "CAUSAL_LM", "bias": "none", "use_rslora": False,
                         "use_dora": False, "modules_to_save": None, "rank_pattern": {},
                         "alpha_pattern": {}, "fan_in_fan_out": False},
        "minimal": {"peft_type": "LORA"},
        "all-linear": {"peft_type": "LORA", "r": 8, "target_modules": "all-linear"},
        "regex": {"peft_type": "LORA", "target_modules": ".*\\.(q|v)_proj", "lora_alpha": 0.5},
        "dora": {"peft_type": "LORA", "use_dora": True},
        "modules-to-save": {"peft_type": "LORA", "modules_to_save": ["lm_head"]},
        "rank-pattern": {"peft_type": "LORA", "rank_pattern": {"q_proj": 4}},
        "bias-all": {"peft_type": "LORA", "bias": "all"},
        "prefix-tuning": {"peft_type": "PREFIX_TUNING"},
        "r-zero": {"peft_type": "LORA", "r": 0},
        "r-float": {"peft_type": "LORA", "r": 8.0},
        "alpha-negative": {"peft_type": "LORA", "lora_alpha": -1},
        "empty-targets": {"peft_type": "LORA", "target_modules": []},
        "dup-targets": {"peft_type": "LORA", "target_modules": ["v_proj", "q_proj", "v_proj"]},
        "rslora-string": {"peft_type": "LORA", "use_rslora": "yes"},
        "unicode-base": {"peft_type": "LORA", "base_model_name_or_path": "/models/Meta-Llama-3.1-8B-\u00e9"},
    }
    for name, value in seeds.items():
        put("adapter_config", name, json.dumps(value))
    put("adapter_config", "duplicate-key", '{"peft_type":"LORA","r":4,"r":8}')
    put("adapter_config", "deep", '{"peft_type":"LORA","x":' + "[" * 40 + "]" * 40 + "}")
    put("adapter_config", "not-object", '["peft_type","LORA"]')
    put("adapter_config", "alpha-huge", '{"peft_type":"LORA","lora_alpha":1e300,"r":65536}')


# ---- schema_json: selector letter + document ----------------------------------------------------
SCHEMA_LETTERS = {
    "CreateTenantRequest": "A", "CreateAdapterRequest": "B", "TenantRecord": "C",
    "ApiKeyRecord": "D", "Job": "E", "UploadChunkHeader": "F", "AdapterState": "G",
    "LoadEvent": "H", "Residency": "I", "Tenant": "J", "ApiKeyCreated": "K", "ApiKeyRevoked": "L",
    "Adapter": "M", "AdapterList": "N", "AdapterDeleted": "O", "Error": "P", "ModelList": "Q",
    "EngineList": "R", "Health": "S", "TenantDeleted": "T",
}


def schema_json(samples):
    if samples is None:
        return
    for name in sorted(os.listdir(samples)):
        path = os.path.join(samples, name)
        if not name.endswith(".json") or not os.path.isfile(path):
            continue
        letter = SCHEMA_LETTERS.get(name.split(".")[0])
        if letter:
            put("schema_json", name[:-5], letter + open(path).read().strip())
    invalid = os.path.join(samples, "invalid")
    if os.path.isdir(invalid):
        for name in sorted(os.listdir(invalid)):
            letter = SCHEMA_LETTERS.get(name.split(".")[0])
            if letter and name != "index.json":
                put("schema_json", "invalid-" + name[:-5],
                    letter + open(os.path.join(invalid, name)).read().strip())
    extra = {
        "A-unknown-field": 'A{"name":"acme","tier":"shared","extra":1}',
        "A-duplicate": 'A{"name":"acme","name":"evil"}',
        "A-escapes": 'A{"name":"a\\u00e9\\ud83d\\ude00\\"\\\\","tier":"dedicated"}',
        "B-hf-token": 'B{"name":"x","base_model":"llama-3.1-8b-instruct","repo":"acme/x",'
                      '"revision":"v1","hf_token":"hf_abc"}',
        "B-wrong-types": 'B{"name":1,"base_model":null,"repo":["a"]}',
        "A-deep": "A" + "[" * 40 + "]" * 40,
        "A-big-number": 'A{"name":"a","tier":1e999}',
    }
    for name, text in extra.items():
        put("schema_json", name, text)


# ---- inference_body -----------------------------------------------------------------------------
def inference_body():
    seeds = {
        "chat": '{"model":"llama-3.1-8b-instruct:support-bot","messages":[{"role":"user",'
                '"content":"hi"}],"max_tokens":16}',
        "chat-stream": '{"model":"llama-3.1-8b-instruct","stream":true,"messages":[]}',
        "completion-nested-model": '{"messages":[{"model":"inner","content":"\\"model\\": no"}],'
                                   '"meta":{"model":"x"}, "model" : "base:adp_1" ,"n":1}',
        "embedding": '{"model":"bge-m3","input":["a","b"],"encoding_format":"float"}',
        "duplicate-model": '{"model":"b:x","model":"c"}',
        "escaped-key": '{"mod\\u0065l":"b"}',
        "escaped-value": '{"model":"llama-3.1-8b-instruct:\\u0073upport\\/x"}',
        "model-number": '{"model":5}',
        "model-empty": '{"model":""}',
        "stream-number": '{"model":"b","stream":1}',
        "stream-null": '{"model":"b","stream":null}',
        "truncated": '{"model":"b"',
        "array": '[{"model":"b"}]',
        "deep": '{"model":"b","x":' + "[" * 100 + "]" * 100 + "}",
        "whitespace": ' \r\n\t{ "model"\n:\t"b" , "temperature" : 0.7 , "stop" : [ "}" ] } ',
    }
    for name, text in seeds.items():
        put("inference_body", name, text)


# ---- resolve: lines ----------------------------------------------------------------------------
def resolve():
    base = "llama-3.1-8b-instruct"
    seeds = {
        "own-and-other": "A|ten_a|%s|support|ready|1|adp_a1\nA|ten_b|%s|support|ready|1|adp_b1\n"
                         "R|ten_a|chat|%s:support\nR|ten_b|completion|%s:support\n"
                         "R|ten_c|chat|%s:support\n" % (base, base, base, base, base),
        "not-ready": "A|ten_a|%s|bot|validating|2|adp_1\nR|ten_a|chat|%s:bot\n"
                     "A|ten_a|%s|bot|failed|3|adp_1\nR|ten_a|chat|%s:bot\n" % ((base,) * 4),
        "stale-seq": "A|ten_a|%s|bot|ready|5|adp_1\nA|ten_a|%s|bot|pending|4|adp_1\n"
                     "R|ten_a|chat|%s:bot\n" % ((base,) * 3),
        "hide-and-tombstone": "A|ten_a|%s|bot|ready|1|adp_1\nH|adp_1\nR|ten_a|chat|%s:bot\n"
                              "A|ten_a|%s|bot2|ready|1|adp_2\nT|adp_2\nR|ten_a|chat|%s:bot2\n"
                              % ((base,) * 4),
        "deleting": "A|ten_a|%s|bot|deleting|1|adp_1\nR|ten_a|chat|%s:bot\n" % (base, base),
        "embedding": "A|ten_a|bge-m3|emb|ready|1|adp_1\nR|ten_a|embedding|bge-m3\n"
                     "R|ten_a|embedding|bge-m3:emb\nR|ten_a|chat|bge-m3\n"
                     "R|ten_a|embedding|%s\n" % base,
        "odd-names": "A|ten_a|%s|a:b|ready|1|adp_1\nR|ten_a|chat|%s:a:b\nR|ten_a|chat|%s:\n"
                     "R|ten_a|chat|:\nR|ten_a|chat|\nR|ten_a|chat|unknown-base:x\n"
                     % ((base,) * 3),
        "same-id-two-tenants": "A|ten_a|%s|bot|ready|1|adp_1\nA|ten_b|%s|bot|ready|2|adp_1\n"
                               "R|ten_a|chat|%s:bot\nR|ten_b|chat|%s:bot\n" % ((base,) * 4),
        "json-record": 'J|adp_01HZX3K9Q7|{"version":1,"id":"adp_01HZX3K9Q7","name":"sb",'
                       '"base_model":"%s","status":"ready","source":{"type":"upload"},'
                       '"created_at":1717000000,"tenant_id":"ten_7f3a","updated_at":1717000001,'
                       '"seq":3}\nR|ten_7f3a|chat|%s:sb\nR|ten_other|chat|%s:sb\n'
                       % (base, base, base),
    }
    for name, text in seeds.items():
        put("resolve", name, text)


# ---- manifest: format byte ('j' JSON lines, 'c' CSV) + text -----------------------------------
def manifest():
    seeds = {
        "jsonl": 'j{"name":"a","base_model":"llama-3.1-8b-instruct","file":"a.safetensors",'
                 '"config":"a.json","lora_alpha":"16"}\n\n{"name":"b","base_model":"llama-3.1-8b-'
                 'instruct","repo":"acme/b","revision":"v2","hf_token":"hf_x"}\n',
        "jsonl-absolute": 'j{"name":"a","base_model":"m","file":"/data/a.safetensors"}\n',
        "jsonl-both": 'j{"name":"a","base_model":"m","file":"f","repo":"r"}\n',
        "jsonl-dup": 'j{"name":"a","base_model":"m","repo":"r"}\n{"name":"a","base_model":"m","repo":"s"}\n',
        "jsonl-unknown": 'j{"name":"a","base_model":"m","repo":"r","x":"y"}\n',
        "jsonl-number": 'j{"name":"a","base_model":"m","repo":"r","lora_alpha":16}\n',
        "jsonl-not-object": 'j["a"]\n',
        "csv": 'cname,base_model,file,config,lora_alpha\r\na,m,a.safetensors,a.json,16\r\n'
               '"b, quoted","m","b.safetensors",,\r\n',
        "csv-repo": 'crepo,name,base_model,revision,hf_token\nacme/x,x,m,main,"hf_""q"""\n,,,,\n',
        "csv-unknown-column": 'cname,base_model,oops\na,m,x\n',
        "csv-cell-count": 'cname,base_model,repo\na,m\n',
        "csv-empty": 'c',
        "csv-repo-config": 'cname,base_model,repo,config\na,m,r,c.json\n',
    }
    for name, text in seeds.items():
        put("manifest", name, text)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", help="output directory of build/bin/schema_samples")
    args = ap.parse_args()
    multipart()
    safetensors()
    adapter_config()
    schema_json(args.samples)
    inference_body()
    resolve()
    manifest()


if __name__ == "__main__":
    main()
