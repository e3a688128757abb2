"""MQAR examples exactly as hylab's tasks/mqar.c generates them (a port).

example(cfg, vocab, seed, split, index) -> (inputs, targets), two lists of
seq_len ints (targets -1 where no label is scored); task_fill() gives the rows
a hylab run sees (training rows from the run's seed, test rows from
TEST_SEED). check_golden() compares the port with tests/fixtures/
mqar_examples.txt, which tests/test_tasks.c checks against hylab itself.
"""
import math

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
TEST_SEED = 0x7E57          # HL_TEST_SEED (tasks/task.h)
TRAIN, TEST = 0, 1          # hl_split
IGNORE = -1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Stream:
    """splitmix64 from a start state."""

    def __init__(self, state):
        self.s = state

    def next(self):
        self.s = (self.s + GOLDEN) & M64
        return mix64(self.s)

    def uniform01(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def uniform_int(self, lo, hi):
        return lo + self.next() % (hi - lo)


def stream_start(seed, split, index):
    h = mix64(seed ^ 0x6A09E667F3BCC909)
    h = mix64(h ^ ((split + 0xBB67AE8584CAA73B) & M64))
    return mix64(h ^ index)


def draw_distinct(rng, lo, hi, n):
    out = []
    while len(out) < n:
        x = rng.uniform_int(lo, hi)
        if x not in out:
            out.append(x)
    return out


def draw_gaps(rng, space, n, a):
    w = [a * math.pow(g + 1, a - 1) for g in range(space)]
    total = 0.0
    for x in w:
        total += x
    gaps = []
    for _ in range(n):
        r = rng.uniform01() * total
        acc, pick = 0.0, -1
        for g in range(space):
            if w[g] == 0:
                continue
            pick = g
            acc += w[g]
            if r < acc:
                break
        gaps.append(pick)
        total -= w[pick]
        w[pick] = 0.0
    return gaps


def example(seq_len, num_kv_pairs, power_a, vocab, seed, split, index):
    L, kv = seq_len, num_kv_pairs
    context, space = 2 * kv, (L - 2 * kv) // 2
    rng = Stream(stream_start(seed, split, index))
    keys = draw_distinct(rng, 1, vocab // 2, kv)
    values = draw_distinct(rng, vocab // 2, vocab, kv)
    gaps = draw_gaps(rng, space, kv, power_a)
    inputs, targets = [0] * L, [IGNORE] * L
    for i in range(kv):
        inputs[2 * i], inputs[2 * i + 1] = keys[i], values[i]
        q = context + 2 * gaps[i]
        inputs[q], targets[q] = keys[i], values[i]
    return inputs, targets


def task_fill(task, vocab, run_seed, split, first, rows):
    """Rows first, first+1, ... (mod num_examples) of split, as hl_task_fill."""
    seed = TEST_SEED if split == TEST else run_seed
    out = [example(task["seq_len"], task["num_kv_pairs"], task["power_a"], vocab, seed, split,
                   (first + r) % task["num_examples"]) for r in range(rows)]
    return [x for x, _ in out], [y for _, y in out]


# Golden file: one example per line,
#   seed split index vocab seq_len num_kv_pairs power_a : inputs... : targets...
GOLDEN_CASES = [(seed, split, index, V, L, kv, 0.01)
                for (V, L, kv) in [(8192, 64, 4), (20, 16, 4), (8192, 256, 16), (4096, 128, 8)]
                for seed in (0, 1, 2, 1 << 40)
                for split in (TRAIN, TEST)
                for index in (0, 1, 99999)]


def golden_line(case):
    seed, split, index, V, L, kv, a = case
    x, y = example(L, kv, a, V, seed, split, index)
    return "%d %d %d %d %d %d %r : %s : %s" % (seed, split, index, V, L, kv, a,
                                                " ".join(map(str, x)), " ".join(map(str, y)))


def write_golden(path):
    with open(path, "w") as f:
        f.write("# MQAR examples of hylab's generator (tests/torch/mqar_data.py --write-golden)\n")
        f.write("# seed split index vocab seq_len num_kv_pairs power_a : inputs : targets\n")
        for c in GOLDEN_CASES:
            f.write(golden_line(c) + "\n")


def check_golden(path):
    """Returns the number of golden examples the port reproduces; raises on a mismatch."""
    n = 0
    for line in open(path):
        if line.startswith("#"):
            continue
        head, xs, ys = line.split(":")
        f = head.split()
        seed, split, index, V, L, kv = map(int, f[:6])
        x, y = example(L, kv, float(f[6]), V, seed, split, index)
        if x != list(map(int, xs.split())) or y != list(map(int, ys.split())):
            raise SystemExit("mqar port differs from the golden example: " + head)
        n += 1
    return n


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--write-golden":
        write_golden(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--check-golden":
        print("%d golden examples reproduced" % check_golden(sys.argv[2]))
    else:
        raise SystemExit("usage: mqar_data.py --write-golden|--check-golden FILE")
