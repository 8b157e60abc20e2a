"""Train one char-level LSTM several ways and compare their speed: tinygrad_lstm, hand-NumPy, torch.

One step = forward + backward + Adam update on a (T, B) window of tokens: one-hot input (I = V)
-> nn.LSTM(V, H) -> nn.Linear(H, V) -> mean cross-entropy over the T*B tokens, with the hidden
state carried from window to window (detached). All implementations start from the same
parameters and see the same windows, so their losses agree (the `loss0` column). The project
(eager), the same step wrapped in tl.compile (its losses must equal eager's, bit for bit, at
every step), the hand-written NumPy BPTT (with the input projection as one matmul, and again as
a row gather, which only a model that knows its input is one-hot can do) and torch, when it is
installed, take turns of a few consecutive steps (TURN_STEPS: 8 at tiny, 1 at large), in
alternating order, after a few untimed warm-up steps each (tl.compile's eager and traced calls:
its timed steps run the program); a ratio is the median of the per-round ratios of the turns'
mean step times. The ratios "project/hand" and "compiled/hand" are against the
faster of the two hand-written versions in this run; "project/hand-dense" against the one that,
like the project, multiplies the dense one-hot input; "compiled/eager" against the project.
Peak RSS comes from a fresh process per implementation that runs a few steps (tl.compile: its
three calls before the program, then as many steps of the program as the others run).

    python benchmarks/bench_lstm.py [--config tiny|small|medium|large|all] [--repeats N]
                                    [--quick] [--json]

Train FLOPs per token = 3 * (2 * (I + H) * 4H + 2 * H * V): the forward's matmuls, and twice
that for the backward.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
from hand_lstm import HandLSTM

# name: (B, T, H, V), default timed rounds, target ratio project / hand-NumPy tokens/s (issue 6,
# set against the first, less tuned hand-written baseline)
CONFIGS = {
    "tiny": ((1, 25, 100, 65), 40, 0.50),
    "small": ((16, 50, 128, 65), 20, 0.80),
    "medium": ((32, 64, 256, 65), 10, 0.90),
    "large": ((64, 128, 512, 65), 6, 0.95),
}
# consecutive steps an implementation runs at its turn, all timed: a training run's steps follow
# each other, and a turn of one step timed how fast a step runs just after another
# implementation's step has evicted its code and arrays from the caches (at tiny the program's
# step after the eager one 0.99 ms, after its own 0.79; the hand-written one's 0.89 and 0.76).
# Fewer at larger sizes, whose steps are long enough for the first one's misses not to count
TURN_STEPS = {"tiny": 8, "small": 4, "medium": 2, "large": 1}
RSS_TARGET = {"medium": 1.5}  # peak RSS project / hand-NumPy at most this (issue 6)
# issue 16: tl.compile's program against the hand-written BPTT the issue describes (hand-dense:
# it multiplies the one-hot input), tokens/s at least this, and its peak RSS at most
# COMPILED_RSS_TARGET times the hand-written one's
COMPILED_TARGETS = {"tiny": 0.90, "small": 0.90, "medium": 1.00, "large": 1.00}
COMPILED_RSS_TARGET = 1.2
LR = 1e-3
N_WINDOWS = 8  # distinct windows cycled through; the state carries across them
COMPILE_CALLS = 3  # tl.compile: call 1 eager, calls 2 and 3 traced, the program from call 4
# untimed steps per implementation before the timed rounds: tl.compile's three calls, and its
# program's first run, which writes and compiles the program's source (a few hundred ms; with
# --quick's three rounds, two of them on a second set of implementations, it was the median)
WARMUP_STEPS = COMPILE_CALLS + 1
RSS_STEPS = 3
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def flops_per_token(H: int, V: int) -> int:
    I = V
    return 3 * (2 * (I + H) * 4 * H + 2 * H * V)


def make_windows(B: int, T: int, V: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """N_WINDOWS consecutive (inputs, targets) pairs, each (T, B) int64, from one token stream."""
    tokens = np.random.default_rng(seed).integers(0, V, (N_WINDOWS * T + 1, B))
    return [(tokens[k * T:(k + 1) * T], tokens[k * T + 1:(k + 1) * T + 1])
            for k in range(N_WINDOWS)]


class HandRun:
    """The hand-derived, batched NumPy model (benchmarks/hand_lstm.py), input projection hoisted
    into one matmul."""

    name = "hand-numpy"
    gather = False

    def __init__(self, V: int, H: int, dtype=np.float32, seed: int = 0) -> None:
        self.model = HandLSTM(V, H, dtype, seed, gather=self.gather)
        self.state = None

    def step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        loss, self.state = self.model.train_step(inputs, targets, LR, self.state)
        return loss


class HandGatherRun(HandRun):
    """The same, with the one-hot input projection done as a row gather (see hand_lstm.py)."""

    name = "hand-gather"
    gather = True


class ProjectRun:
    """tinygrad_lstm's public API, written as a user would write it."""

    name = "tinygrad_lstm"

    def __init__(self, V: int, H: int, dtype=np.float32, seed: int = 0) -> None:
        # imported here, so the hand-NumPy RSS child never loads the engine
        from tinygrad_lstm import Tensor, nn, optim

        class CharLSTM(nn.Module):
            def __init__(self, V: int, H: int) -> None:
                super().__init__()
                self.lstm = nn.LSTM(V, H)
                self.fc = nn.Linear(H, V)

            def forward(self, x, state=None):
                out, state = self.lstm(x, state)  # (T, B, H)
                return self.fc(out), state  # (T, B, V)

        self.Tensor, self.F = Tensor, nn.functional
        self.model = CharLSTM(V, H).to(dtype)
        # the same initial parameters as the hand-NumPy model (same names as PyTorch's)
        self.model.load_state_dict(HandLSTM(V, H, dtype, seed).params)
        self.optimizer = optim.Adam(self.model.parameters(), lr=LR)
        self.eye = np.eye(V, dtype=dtype)
        self.V, self.state = V, None

    def loss(self, inputs: np.ndarray, targets: np.ndarray):
        """Mean cross-entropy of one window; updates the carried state (detached)."""
        x = self.Tensor(self.eye[inputs])  # (T, B, V) one-hot
        logits, (h, c) = self.model(x, self.state)
        loss = self.F.cross_entropy(logits.reshape(-1, self.V), self.Tensor(targets.reshape(-1)))
        self.state = (h.detach(), c.detach())
        return loss

    def step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        loss = self.loss(inputs, targets)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


class CompiledRun(ProjectRun):
    """The same model and optimizer, the training step wrapped in tl.compile (the carried state
    passed in and out, so every call has the same input signature)."""

    name = "tl.compile"

    def __init__(self, V: int, H: int, dtype=np.float32, seed: int = 0) -> None:
        super().__init__(V, H, dtype, seed)
        import tinygrad_lstm as tl

        model, optimizer, F = self.model, self.optimizer, self.F

        def train_step(x, y, h, c):
            logits, (h, c) = model(x, (h, c))
            loss = F.cross_entropy(logits.reshape(-1, V), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss, h.detach(), c.detach()

        # fullgraph: raise rather than fall back to eager
        self.train_step = tl.compile(train_step, fullgraph=True)
        self.H, self.dtype, self.calls = H, dtype, 0

    def step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        if self.state is None:  # zeros, not None: the first call takes the same inputs as later
            zeros = np.zeros((1, inputs.shape[1], self.H), self.dtype)
            self.state = (self.Tensor(zeros), self.Tensor(zeros.copy()))
        x = self.Tensor(self.eye[inputs])  # (T, B, V) one-hot
        loss, h, c = self.train_step(x, self.Tensor(targets.reshape(-1)), *self.state)
        self.state = (h, c)
        self.calls += 1
        if self.calls >= COMPILE_CALLS:  # from here on every call must run the one program
            log = self.train_step.explain()
            if not log.startswith("built a program") or "\n" in log:
                raise RuntimeError(f"tl.compile: after {self.calls} calls the step should run "
                                   f"one program, but explain() says:\n{log}")
        return loss.item()


class TorchRun:
    """PyTorch, the same model and loop (only when torch is installed)."""

    name = "torch"

    def __init__(self, V: int, H: int, dtype=np.float32, seed: int = 0) -> None:
        import torch

        class CharLSTM(torch.nn.Module):
            def __init__(self, V: int, H: int) -> None:
                super().__init__()
                self.lstm = torch.nn.LSTM(V, H)
                self.fc = torch.nn.Linear(H, V)

            def forward(self, x, state=None):
                out, state = self.lstm(x, state)
                return self.fc(out), state

        self.torch = torch
        self.model = CharLSTM(V, H).to(getattr(torch, np.dtype(dtype).name))
        params = HandLSTM(V, H, dtype, seed).params
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.eye = torch.eye(V, dtype=self.model.fc.weight.dtype)
        self.V, self.state = V, None

    def step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        torch = self.torch
        x = self.eye[torch.from_numpy(inputs)]  # (T, B, V) one-hot
        logits, (h, c) = self.model(x, self.state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, self.V),
                                                 torch.from_numpy(targets.reshape(-1)))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.state = (h.detach(), c.detach())
        return loss.item()


RUNS = {"project": ProjectRun, "compiled": CompiledRun, "hand": HandRun,
        "hand_gather": HandGatherRun, "torch": TorchRun}


def available_runs() -> list[str]:
    try:
        import torch  # noqa: F401
    except ImportError:
        return ["project", "compiled", "hand", "hand_gather"]
    return ["project", "compiled", "hand", "hand_gather", "torch"]


def time_config(name: str, repeats: int, runs: list[str]) -> dict:
    """Alternate the implementations, TURN_STEPS steps at a turn; step times and losses.

    Half of the rounds run on implementations built in the order of `runs`, half on a second
    set built in the reverse order: where an implementation's arrays land in memory moves its
    speed by up to ~10% on this machine, and the first one built tended to be the faster.
    Each set trains WARMUP_STEPS untimed steps first: what is timed is the steady state of a
    training run, not the first steps, in which malloc is still learning the step's sizes
    (glibc maps arrays of 128 KiB and more afresh, with page faults, until freeing such arrays
    has raised its threshold; the engine allocates per step, the hand-written code once).
    The warm-up also covers tl.compile's eager and traced calls: its timed steps run the program.
    """
    (B, T, H, V), _, _ = CONFIGS[name]
    windows, turn = make_windows(B, T, V), TURN_STEPS[name]
    times = {r: [] for r in runs}  # per round: the mean step time of its turn
    losses = {r: [] for r in runs}  # warm-up and timed steps, both sets in turn
    for build_order, rounds in ((runs, (repeats + 1) // 2), (runs[::-1], repeats // 2)):
        if rounds == 0:
            continue
        impls = {r: RUNS[r](V, H) for r in build_order}
        for k in range(WARMUP_STEPS):
            for r, impl in impls.items():
                losses[r].append(impl.step(*windows[k % N_WINDOWS]))
        for k in range(rounds):
            order = runs if k % 2 == 0 else runs[::-1]  # neither goes first every time
            for r in order:
                start = time.perf_counter()
                for j in range(turn):
                    window = windows[(WARMUP_STEPS + k * turn + j) % N_WINDOWS]
                    losses[r].append(impls[r].step(*window))
                times[r].append((time.perf_counter() - start) / turn)
        del impls
    if losses["compiled"] != losses["project"]:  # bitwise equal, by design
        k = next(k for k, (a, b) in enumerate(zip(losses["compiled"], losses["project"]))
                 if a != b)
        raise RuntimeError(f"{name}: tl.compile's loss at step {k} is {losses['compiled'][k]!r}, "
                           f"eager's {losses['project'][k]!r}; they must be equal")
    return {"times": times, "loss0": {r: v[0] for r, v in losses.items()}}


def peak_rss_kib() -> int:
    """Peak RSS of this process in KiB.

    On Linux, ru_maxrss survives exec: a child started by this (larger) process would report
    at least its parent's size. VmHWM belongs to the process's own address space.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS


def child_rss(run: str, config: str, steps: int) -> int:
    """Peak RSS in KiB of a fresh process that runs `steps` training steps of `run`
    ("idle": only this script's imports, numpy among them)."""
    out = subprocess.run([sys.executable, __file__, "--rss-child", run, "--config", config,
                          "--rss-steps", str(steps)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except (KeyError, TypeError):
        blas = "unknown"
    # a threaded BLAS slows down many times over when other processes hold the cores
    threads = {k: os.environ[k] for k in BLAS_THREAD_VARS if k in os.environ}
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas,
            "blas_threads_env": threads,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def _median_ratio(times: dict, base: str, impl: str) -> float:
    """The median over rounds of base's step time / impl's: impl's tokens/s over base's."""
    return statistics.median(b / i for b, i in zip(times[base], times[impl]))


def run_config(name: str, repeats: int, rss_steps: int, runs: list[str]) -> dict:
    (B, T, H, V), _, target = CONFIGS[name]
    timed = time_config(name, repeats, runs)
    tokens, fpt = T * B, flops_per_token(H, V)
    result = {"config": name, "B": B, "T": T, "H": H, "V": V, "repeats": repeats,
              "tokens_per_step": tokens, "flops_per_token": fpt, "impls": {}}
    for r in runs:
        ms = statistics.median(timed["times"][r]) * 1e3
        result["impls"][r] = {
            "ms_per_step": ms,
            "tokens_per_s": tokens / ms * 1e3,
            "gflops": tokens * fpt / ms / 1e6,
            "peak_rss_mib": child_rss(r, name, rss_steps) / 1024,
            "loss0": timed["loss0"][r],
        }
    fastest = min(("hand", "hand_gather"), key=lambda r: result["impls"][r]["ms_per_step"])
    result["fastest_hand"] = fastest
    for key, base in (("ratio", fastest), ("ratio_dense", "hand"), ("ratio_gather", "hand_gather")):
        result[key] = _median_ratio(timed["times"], base, "project")
        result["compiled_" + key] = _median_ratio(timed["times"], base, "compiled")
    result["compiled_vs_eager"] = _median_ratio(timed["times"], "project", "compiled")
    result["compiled_losses_equal_eager"] = True  # time_config raised otherwise
    hand_rss = result["impls"][fastest]["peak_rss_mib"]
    result["rss_ratio"] = result["impls"]["project"]["peak_rss_mib"] / hand_rss
    result["compiled_rss_ratio"] = result["impls"]["compiled"]["peak_rss_mib"] / hand_rss
    result["target_ratio"] = target
    result["target_rss_ratio"] = RSS_TARGET.get(name)
    result["compiled_target_ratio"] = COMPILED_TARGETS[name]
    result["compiled_target_rss_ratio"] = COMPILED_RSS_TARGET
    return result


def print_table(report: dict) -> None:
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}, "
          f"NumPy {m['numpy']} ({m['blas']}); load average at start {m['loadavg_at_start']}"
          + "".join(f"; {k}={v}" for k, v in m["blas_threads_env"].items()))
    print(f"idle interpreter with numpy imported: {report['baseline_rss_mib']:.1f} MiB peak RSS")
    print()
    print(f"{'config':<7} {'B':>3} {'T':>4} {'H':>4} {'V':>3}  {'implementation':<14} "
          f"{'ms/step':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'RSS MiB':>8} {'loss0':>8}")
    for res in report["results"]:
        head = (f"{res['config']:<7} {res['B']:>3} {res['T']:>4} {res['H']:>4} {res['V']:>3}")
        for r, v in res["impls"].items():
            print(f"{head:<25}  {RUNS[r].name:<14} {v['ms_per_step']:>9.2f} "
                  f"{v['tokens_per_s']:>9.0f} {v['gflops']:>8.2f} {v['peak_rss_mib']:>8.1f} "
                  f"{v['loss0']:>8.5f}")
            head = ""
    print()
    print("project/hand: tokens/s of the project (eager) over the fastest hand-written version")
    print("(named); project/hand-dense: over the hand-written version that multiplies the one-hot")
    print("input; targets of issue 6, set against the first, less tuned hand-written version")
    print(f"{'config':<7} {'rounds':>6} {'project/hand':>13} {'(fastest)':<12} {'target':>7} "
          f"{'project/hand-dense':>19} {'RSS project/hand':>17} {'target':>7}")
    for res in report["results"]:
        rss_target = res["target_rss_ratio"]
        print(f"{res['config']:<7} {res['repeats']:>6} {res['ratio']:>13.2f} "
              f"{RUNS[res['fastest_hand']].name:<12} "
              f"{'>= ' + format(res['target_ratio'], '.2f'):>7} {res['ratio_dense']:>19.2f} "
              f"{res['rss_ratio']:>17.2f} "
              f"{'<= ' + format(rss_target, '.2f') if rss_target else '':>7}")
    print()
    print("compiled/hand: tokens/s of tl.compile's program over the same fastest hand-written")
    print("version; compiled/hand-dense: over the hand-written BPTT issue 16 describes (the one")
    print("that multiplies the one-hot input, as a layer handed a dense input must), which its")
    print("targets are set against; compiled/eager: over the project's eager step; the compiled")
    print("RSS includes its two traced calls")
    print(f"{'config':<7} {'rounds':>6} {'compiled/hand':>14} {'compiled/hand-dense':>20} "
          f"{'target':>7} {'compiled/eager':>15} {'RSS compiled/hand':>18} {'target':>7}")
    for res in report["results"]:
        print(f"{res['config']:<7} {res['repeats']:>6} {res['compiled_ratio']:>14.2f} "
              f"{res['compiled_ratio_dense']:>20.2f} "
              f"{'>= ' + format(res['compiled_target_ratio'], '.2f'):>7} "
              f"{res['compiled_vs_eager']:>15.2f} {res['compiled_rss_ratio']:>18.2f} "
              f"{'<= ' + format(res['compiled_target_rss_ratio'], '.2f'):>7}")


def rss_child(run: str, config: str, steps: int) -> None:
    if run != "idle":
        (B, T, H, V), _, _ = CONFIGS[config]
        windows = make_windows(B, T, V)
        impl = RUNS[run](V, H)
        if run == "compiled":  # its calls before the program, then `steps` of the program
            steps += COMPILE_CALLS
        for k in range(steps):
            impl.step(*windows[k % N_WINDOWS])
    print(peak_rss_kib())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=[*CONFIGS, "all"], default="all",
                        help="model and batch size (B, T, H, V); default all")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds per config (default: 40/20/10/6, tiny to large)")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 2 steps for the RSS")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--rss-child", choices=[*RUNS, "idle"], help=argparse.SUPPRESS)
    parser.add_argument("--rss-steps", type=int, default=RSS_STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.config, args.rss_steps)
        return
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    names = list(CONFIGS) if args.config == "all" else [args.config]
    runs = available_runs()
    report = {"machine": machine(), "baseline_rss_mib": child_rss("idle", "tiny", 0) / 1024,
              "results": []}
    for name in names:
        repeats = args.repeats or (3 if args.quick else CONFIGS[name][1])
        rss_steps = 2 if args.quick else args.rss_steps
        report["results"].append(run_config(name, repeats, rss_steps, runs))
        if not args.json:
            print(f"{name}: done", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
