"""llama.cpp's server (the xllamacpp wheel, CPU) on 127.0.0.1, serving a GGUF file.

    python serve_llamacpp.py MODEL.gguf PORT API_KEY MAX_SECONDS

Greedy decoding (temperature 0, top-k 1), one compute thread, two slots, 16 HTTP threads, at most 64
generated tokens:
with the tiny model of tiny_gguf.py every answer is the same. The server runs in this process's
threads; the process exits after MAX_SECONDS, or at once on SIGTERM.
"""
import signal
import sys
import threading

import xllamacpp


def main() -> None:
    model, port, key, lifetime = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.model_alias = "tiny-llama"
    params.n_ctx = 4096
    params.n_predict = 64
    params.n_parallel = 2
    # HTTP worker threads: the default (hardware threads - 1) is one on a 2-core machine, and the suite's
    # concurrent keep-alive connections would queue behind it past the idle limit.
    params.n_threads_http = 16
    params.port = port
    params.hostnames = ["127.0.0.1"]
    params.api_keys = [key]
    params.use_jinja = True
    params.warmup = False
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.sampling.temp = 0.0
    params.sampling.top_k = 1
    params.sampling.seed = 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = xllamacpp.Server(params)
    print(f"listening {server.listening_address}", flush=True)
    stop.wait(lifetime)


if __name__ == "__main__":
    main()
