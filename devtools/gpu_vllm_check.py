"""The old name of ``devtools.vllm_check`` (hf-vs-vllm parity and throughput, GPU or CPU)."""

from devtools.vllm_check import main

if __name__ == "__main__":
    main()
