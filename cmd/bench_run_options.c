/* normlab bench --run: its usage and options (bench_run.h). */
#include <stdio.h>
#include <string.h>

#include "base/number.h"
#include "cmd.h"

#include "bench_run.h"

void bench_run_usage(FILE *out)
{
    fprintf(out,
            "usage: normlab bench --run CONFIG.yaml [--set KEY=VALUE]... [--rounds N] [--torch]\n"
            "                     [--step] [--threads N] [--skip F] [--csv FILE] [--keep DIR]\n"
            "                     [--torch-mode MODE] [--python PATH] [--peer SCRIPT]\n\n"
            "Times real runs of CONFIG, end to end: each round runs `normlab run CONFIG` (the\n"
            "--set overrides applied) as a child process into a scratch directory and reads\n"
            "its steady state from the metrics.csv it wrote: the steps between train rows,\n"
            "after the first window and the first --skip share of the steps, evaluations\n"
            "taken out. Rates are samples/s (tokens/s for an lm). Each round prints a\n"
            "line per side; the end, the median, min and max of each side and of the\n"
            "ratio normlab / PyTorch over the rounds. Each side is credited the model's\n"
            "FLOPs per step (its products, forward and backward) at its own rate, and its\n"
            "shares of the peaks measured first (bench --peak: FMA, then sgemm).\n\n"
            "  --rounds N     rounds (default 3); the order within a round alternates\n"
            "  --torch        also run the PyTorch training script of the same config\n"
            "                 (experiments/bench/torch_run.py; a config it does not mirror\n"
            "                 is refused, naming what it mirrors) on the thread count the\n"
            "                 normlab run took\n"
            "  --torch-mode M eager, compile (torch.compile's default), max-autotune, or best\n"
            "                 (the default): each of the three, the compiled ones where they\n"
            "                 compile, the fastest per round taken as the peer; compilation is\n"
            "                 timed apart (compile s) and before the run's clock starts\n"
            "  --step         also time the model's training step alone in this process (the\n"
            "                 --training loop: random data, SGD momentum 0.9, the lm AdamW;\n"
            "                 the mean over its timed steps, and the median repetition)\n"
            "  --threads N    both sides' threads (default: a run picks the cores other\n"
            "                 processes leave free; PyTorch then gets the same count)\n"
            "  --skip F       warm-up share of the steps left out (default 0.1)\n"
            "  --csv FILE     one row per side and round, with the machine's description,\n"
            "                 FLOPs per step, GFLOP/s and shares of the FMA and sgemm peaks\n"
            "  --keep DIR     keep the runs' directories there (default: a scratch directory,\n"
            "                 removed at the end)\n"
            "  --python PATH  the Python with PyTorch (default %s, the pinned peer\n"
            "                 installed as below; /usr/bin/python3 is Debian's torch 1.13:\n"
            "                 --torch-mode eager only)\n"
            "  --peer SCRIPT  the PyTorch script (default %s)\n\n"
            "Both sides run in this command's environment, so the OpenMP setting normlab\n"
            "takes (GOMP_SPINCOUNT=3000 unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set)\n"
            "holds for PyTorch too. The config must train on the CPU, without checkpoints.\n"
            "Numbers from a loaded machine are noisy: the spread over the rounds says how much.\n"
            "A compiled mode's process seconds include its compilation.\n\n"
            "The pinned PyTorch peer (torch 2.15), from the repository's root:\n"
            "  %s\n",
            DEFAULT_PYTHON, DEFAULT_PEER, INSTALL_PEER);
}

/* the step bench's options, which the config replaces with --run */
static const char *const step_only[] = {"--kernels", "--training", "--quick", "--busy", "--reps",
                                        "--warmup", "--model", "--norm", "--batch", "--groups",
                                        "--d-model", "--heads", "--layers", "--context",
                                        "--vocab", "--placement", "--patch"};

/* an option's value into o; an exit status (0: taken) */
static int take_value(run_options *o, const char *a, const char *v)
{
    int rc = 0;
    if (!strcmp(a, "--run")) {
        if (o->config)
            return nl_cmd_usage_error("bench", "--run: one config at a time");
        o->config = v;
    } else if (!strcmp(a, "--rounds")) {
        rc = nl_cmd_int_arg("bench --run", a, v, &o->rounds);
    } else if (!strcmp(a, "--threads")) {
        rc = nl_cmd_int_arg("bench --run", a, v, &o->threads);
    } else if (!strcmp(a, "--skip")) {
        if (!nl_parse_finite(v, &o->skip) || !(o->skip >= 0.0 && o->skip < 1.0))
            return nl_cmd_usage_error("bench", "--skip: '%s' is not a share in [0, 1)", v);
    } else if (!strcmp(a, "--csv")) {
        o->csv = v;
    } else if (!strcmp(a, "--keep")) {
        o->keep = v;
    } else if (!strcmp(a, "--python")) {
        o->python = v;
    } else if (!strcmp(a, "--torch-mode")) {
        char choices[128];
        o->torch_mode = nl_name_lookup(&nl_torch_mode_names, v);
        o->torch_mode_given = true;
        if (o->torch_mode < 0)
            return nl_cmd_usage_error("bench", "--torch-mode: '%s' is not one of %s", v,
                                      nl_name_choices(&nl_torch_mode_names, choices,
                                                      sizeof choices));
    } else {
        o->peer = v;
    }
    return rc;
}

int bench_run_parse_options(int argc, char **argv, run_options *o, bool *help)
{
    memset(o, 0, sizeof *o);
    o->rounds = 3;
    o->skip = 0.1;
    o->peer = DEFAULT_PEER;
    o->torch_mode = NL_TORCH_BEST;
    for (int i = 1; i < argc; i++)
        if (nl_cmd_is_help(argv[i])) {
            *help = true;
            return 0;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nl_cmd_is_help(a)) {
            *help = true;
            return 0;
        }
        if (!strcmp(a, "--torch")) {
            o->torch = true;
            continue;
        }
        if (!strcmp(a, "--step")) {
            o->step = true;
            continue;
        }
        if (!strcmp(a, "--set")) {
            int rc = nl_cmd_take_set("bench", argc, argv, &i, o->sets, &o->n_sets, MAX_SETS);
            if (rc)
                return rc;
            continue;
        }
        for (size_t k = 0; k < sizeof step_only / sizeof step_only[0]; k++)
            if (!strcmp(a, step_only[k]))
                return nl_cmd_usage_error("bench", "%s is the step bench's; with --run the "
                                          "config says what trains (--set changes it)", a);
        const bool takes = !strcmp(a, "--run") || !strcmp(a, "--rounds") ||
                           !strcmp(a, "--threads") || !strcmp(a, "--skip") ||
                           !strcmp(a, "--csv") || !strcmp(a, "--keep") ||
                           !strcmp(a, "--python") || !strcmp(a, "--peer") ||
                           !strcmp(a, "--torch-mode");
        if (!takes)
            return nl_cmd_usage_error("bench", "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return nl_cmd_usage_error("bench", "%s needs a value", a);
        const int rc = take_value(o, a, argv[++i]);
        if (rc)
            return rc;
    }
    if (!*help && !o->config)
        return nl_cmd_usage_error("bench", "--run needs a config file");
    if (!*help && o->torch_mode_given && !o->torch)
        return nl_cmd_usage_error("bench", "--torch-mode: only with --torch");
    return 0;
}
