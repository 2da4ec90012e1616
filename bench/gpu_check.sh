#!/usr/bin/env bash
# The GPU path end to end on one machine with one GPU and no network, with what is installed there:
#   1. builds a tiny randomly initialised Qwen3-architecture model (its own tokenizer and chat template),
#   2. fine-tunes it for a few steps through training/train.py (bf16; ZeRO-3 when deepspeed is installed),
#   3. serves the result with `cligym rollout --serve vllm` on one exported task (an episode, judged).
# Prints each step's result and what was missing; a few minutes with --task (generating a task adds ~2).
#
#   bash bench/gpu_check.sh                       # generates the demo task first (Docker needed)
#   bash bench/gpu_check.sh --task runs/demo/harbor/TASK_DIR
#   bash bench/gpu_check.sh --dry-run             # CPU: the model, its memory plan, 5 steps on CPU, the vLLM command
set -uo pipefail

cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
work="${TMPDIR:-/tmp}/cligym-gpu-check"
task=""
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --task) task="$2"; shift ;;
    --work) work="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$work"
results=()
failed=0
record() { results+=("$(printf '%-14s %-8s %s' "$1" "$2" "$3")"); [ "$2" = failed ] && failed=1; printf '==> %s: %s %s\n' "$1" "$2" "$3"; }

# 0. What this machine has --------------------------------------------------------------------------
"$python" - "$work/machine.env" <<'EOF'
import importlib.util, shutil, sys
have = {}
try:
    import torch
    have["gpu"] = torch.cuda.is_available()
    have["gpu_name"] = torch.cuda.get_device_name(0) if have["gpu"] else ""
except ImportError:
    have["gpu"], have["gpu_name"] = False, ""
for package in ("deepspeed", "vllm", "flash_attn", "trl"):
    have[package] = importlib.util.find_spec(package) is not None
have["docker"] = shutil.which("docker") is not None
with open(sys.argv[1], "w") as out:
    for key, value in have.items():
        out.write(f"have_{key}={int(value) if isinstance(value, bool) else repr(value)}\n")
EOF
# shellcheck disable=SC1091
source "$work/machine.env"
missing=()
[ "$have_gpu" = 1 ] || missing+=("a CUDA GPU")
[ "$have_trl" = 1 ] || missing+=("trl (pip install 'cligym[train]')")
[ "$have_deepspeed" = 1 ] || missing+=("deepspeed (ZeRO-3 skipped)")
[ "$have_flash_attn" = 1 ] || missing+=("flash-attn (sdpa used)")
[ "$have_vllm" = 1 ] || missing+=("vllm (pip install 'cligym[vllm]')")
record machine ok "${have_gpu_name:-no GPU}; missing: ${missing[*]:-nothing}"
if [ "$dry_run" = 0 ] && { [ "$have_gpu" = 0 ] || [ "$have_trl" = 0 ]; }; then
  record train failed "needs a CUDA GPU and trl; --dry-run checks the rest on CPU"
  printf '%s\n' "${results[@]}"; exit 1
fi

# 1. A tiny Qwen3 and a dataset in `cligym dataset`'s shape ------------------------------------------
if "$python" - "$work" > "$work/build.log" 2>&1 <<'EOF'
import sys
from pathlib import Path

import datasets
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, Qwen3Config

work = Path(sys.argv[1])
template = (
    "{%- if tools %}<|im_start|>system\n# Tools\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}<|im_end|>\n"
    "{% endif %}{%- for message in messages %}<|im_start|>{{ message.role }}\n"
    "{%- if message.role == 'assistant' %}{% generation %}{{ message.content }}"
    "{%- for call in message.tool_calls or [] %}<tool_call>\n"
    '{{ {"name": call.function.name, "arguments": call.function.arguments} | tojson }}\n</tool_call>'
    "{%- endfor %}<|im_end|>{% endgeneration %}\n{%- else %}{{ message.content }}<|im_end|>\n{% endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
tool = {"type": "function", "function": {"name": "bash", "parameters": {"type": "object", "properties": {
    "command": {"type": "string"}}, "required": ["command"]}}}


def row(index: int) -> dict:
    call = {"id": f"c{index}", "type": "function", "function": {"name": "bash", "arguments": {"command": "ls /repo"}}}
    return {"messages": [
        {"role": "system", "content": "You repair broken environments."},
        {"role": "user", "content": f"Task {index}: the tests fail."},
        {"role": "assistant", "content": "Looking.", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"c{index}", "content": "exit code 0\nsetup.py tests"},
        {"role": "assistant", "content": "Repaired; submit."},
    ], "tools": [tool]}


rows = [row(index) for index in range(16)]
texts = [str(message["content"]) for r in rows for message in r["messages"]] + [template, "ls /repo bash command"]
bpe = Tokenizer(models.BPE(unk_token="<unk>"))
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
bpe.decoder = decoders.ByteLevel()
special = ["<unk>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<think>", "</think>", "<pad>"]
bpe.train_from_iterator(texts * 4, trainers.BpeTrainer(
    vocab_size=512, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<pad>", unk_token="<unk>", chat_template=template)
config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=4096,
                     eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
torch.manual_seed(0)
model_dir = work / "tiny-qwen3"
AutoModelForCausalLM.from_config(config).save_pretrained(model_dir)
tokenizer.save_pretrained(model_dir)
data = datasets.Dataset.from_list(rows)
datasets.DatasetDict({"train": data, "validation": data.select([0, 1])}).save_to_disk(str(work / "dataset"))
print(f"model {sum(p.numel() for p in AutoModelForCausalLM.from_config(config).parameters())} parameters")
EOF
then record model ok "$(tail -1 "$work/build.log") in $work/tiny-qwen3"
else record model failed "see $work/build.log"; printf '%s\n' "${results[@]}"; exit 1
fi

# 2. Fine-tune through training/train.py -------------------------------------------------------------
cat > "$work/train.yaml" <<EOF
model: $work/tiny-qwen3
dataset: $work/dataset
output_dir: $work/trained
max_length: 2048
bf16: $([ "$have_gpu" = 1 ] && echo true || echo false)
gradient_checkpointing: false
attn_implementation: flash_attention_2
learning_rate: 1.0e-3
warmup_ratio: 0.0
max_steps: 5
logging_steps: 1
save_steps: 5
EOF
# ZeRO-3 on the GPU run; the CPU dry run trains plainly (DeepSpeed's CPU optimizer would compile first).
[ "$have_deepspeed" = 1 ] && [ "$dry_run" = 0 ] && echo "deepspeed: configs/train/deepspeed_zero3.json" >> "$work/train.yaml"
# One rank of a launch, as accelerate/torchrun would set it, so ZeRO-3 runs without a launcher.
export MASTER_ADDR=127.0.0.1 MASTER_PORT="${MASTER_PORT:-29533}" RANK=0 LOCAL_RANK=0 WORLD_SIZE=1
if "$python" training/train.py --config "$work/train.yaml" --dry-run --gpus 1 > "$work/plan.log" 2>&1; then
  record plan ok "$(grep -m1 '^data' "$work/plan.log" | cut -c13-); $(grep 'total' "$work/plan.log" | xargs) GB"
else record plan failed "see $work/plan.log"
fi
where=$([ "$dry_run" = 1 ] && echo "on CPU" || echo "on the GPU")
if "$python" training/train.py --config "$work/train.yaml" > "$work/train.log" 2>&1 \
    && [ -f "$work/trained/config.json" ]; then
  zero=$(grep -q '^deepspeed:' "$work/train.yaml" && echo ' under ZeRO-3')
  record train ok "5 steps $where$zero, loss $(grep -o "'train_loss': '[0-9.]*'" "$work/train.log" | tail -1 | cut -d"'" -f4); model in $work/trained"
else record train failed "see $work/train.log"
fi

# 3. Serve it with vLLM on one exported task -------------------------------------------------------
served="$work/trained"; [ -f "$served/config.json" ] || served="$work/tiny-qwen3"
serve_args=$("$python" -c 'import sys; from cligym.vllm_flags import vllm_serve_args
print(" ".join(vllm_serve_args(sys.argv[1], [], tool_calls=True)))' "$served" 2>"$work/serve-args.log") \
  || serve_args="none: $(tail -1 "$work/serve-args.log")"
rollout=(.venv/bin/cligym rollout "${task:-$work/demo/harbor}" --serve vllm --model "$served"
         --samples 1 --concurrency 1 --max-steps 3 --out "$work/rollout")
if [ "$dry_run" = 1 ]; then
  record serve skipped "dry run: vllm serve flags: $serve_args; would run: ${rollout[*]}"
elif [ "$have_vllm" = 0 ]; then
  record serve failed "vllm is not installed (pip install 'cligym[vllm]')"
else
  if [ -z "$task" ]; then
    if .venv/bin/cligym generate configs/repos/inventory.yaml --tasks 1 --out "$work/demo" > "$work/generate.log" 2>&1; then
      record task ok "generated from the demo repository into $work/demo"
    else record task failed "see $work/generate.log (Docker and the base image are needed)"
    fi
  fi
  if "${rollout[@]}" > "$work/rollout.log" 2>&1 && [ -s "$work/rollout/trajectories.jsonl" ]; then
    record serve ok "$(wc -l < "$work/rollout/trajectories.jsonl") episode(s) in $work/rollout/trajectories.jsonl"
  else record serve failed "see $work/rollout.log"
  fi
fi

echo
printf '%s\n' "${results[@]}"
exit "$failed"
