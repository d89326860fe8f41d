/* normlab bench --run: what the PyTorch peer mirrors, by the kinds' rows
 * and by the script's own check (bench_run.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/registry.h"
#include "cmd.h"
#include "data/registry.h"
#include "norm/registry.h"

#include "bench_run.h"

/* the rows of table t that pick(row, ctx) takes, "a, b and c", into buf */
static const char *join_picked(const nl_name_table *t, bool (*pick)(int, const void *),
                               const void *ctx, char *buf, size_t size)
{
    int picked = 0, shown = 0;
    for (int i = 0; i < t->count; i++)
        picked += pick(i, ctx);
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < t->count && used < size; i++)
        if (pick(i, ctx)) {
            shown++;
            used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                     shown == 1 ? "" : shown == picked ? " and " : ", ",
                                     nl_name_of(t, i));
        }
    return buf;
}

static bool arch_mirrored(int a, const void *ctx)
{
    (void)ctx;
    return nl_arch_info_of((nl_arch)a)->bench_torch != 0;
}

static bool norm_mirrored(int k, const void *ctx)
{
    (void)ctx;
    return nl_norm_info_of((nl_norm_kind)k)->bench_torch;
}

/* ctx: the architecture's row */
static bool placement_mirrored(int p, const void *ctx)
{
    return (((const nl_arch_info *)ctx)->bench_torch >> p) & 1u;
}

/* What the PyTorch script mirrors, by the architecture's and the
 * normalizer's rows: NULL, or what it does not. The script's own check
 * (torch_run.py --check, which peer_mirrors asks) has the last word; this
 * one needs no PyTorch. */
const char *bench_run_torch_refusal(const nl_config *cfg, char *buf, size_t size)
{
    const nl_model_spec *m = &cfg->model;
    const nl_train_spec *t = &cfg->train;
    const char *arch = nl_name_of(&nl_arch_names, m->arch);
    const char *norm = nl_name_of(&nl_norm_names, m->norm.kind);
    char names[256];
    if (cfg->device != NL_DEVICE_CPU)
        return "device: the PyTorch script trains on the CPU only";
    const nl_arch_info *row = nl_arch_info_of(m->arch);
    if (!row->bench_torch) {
        snprintf(buf, size, "model.arch: %s (the PyTorch script mirrors %s)", arch,
                 join_picked(&nl_arch_names, arch_mirrored, NULL, names, sizeof names));
        return buf;
    }
    const nl_norm_kind k = m->norm.kind;
    const nl_norm_info *norm_row = nl_norm_info_of(k);
    /* a formula: the script mirrors EvoNorm-B0's and S0's by timm's modules
     * (experiments/bench/evonorm_formulas.py), and its --check refuses any
     * other formula, naming those */
    if (!norm_row->bench_torch && !(norm_row->keys & NL_NORM_KEY_FORMULA)) {
        snprintf(buf, size, "model.norm.type: %s (the PyTorch script mirrors %s, and expr "
                 "where it is EvoNorm-B0's or S0's formula)", norm,
                 join_picked(&nl_norm_names, norm_mirrored, NULL, names, sizeof names));
        return buf;
    }
    if (norm_row->adds_layer && !placement_mirrored((int)m->norm.placement, row)) {
        snprintf(buf, size, "model.norm.placement: %s (the PyTorch script puts a %s's "
                 "normalizer at %s)", nl_name_of(&nl_placement_names, m->norm.placement), arch,
                 join_picked(&nl_placement_names, placement_mirrored, row, names, sizeof names));
        return buf;
    }
    if (norm_row->adds_layer && m->norm.placement == NL_PLACE_IN_CELL && norm_row->running_stats) {
        snprintf(buf, size, "model.norm.type: %s at placement in_cell (the PyTorch script's "
                 "cell takes per-sample statistics, not the per-step recurrent batch norm)",
                 norm);
        return buf;
    }
    if (k == NL_NORM_BATCH && (m->norm.cumulative || m->norm.sync))
        return "model.norm: a cumulative or synchronized batch norm";
    if (m->weight_standardization)
        return "model.weight_standardization: true";
    if (m->param_norm.kind != NL_PARAM_NORM_NONE) {
        snprintf(buf, size, "model.param_norm.type: %s",
                 nl_name_of(&nl_param_norm_names, m->param_norm.kind));
        return buf;
    }
    if (!nl_dataset_info_of(cfg->data.kind)->torch_script) {
        char readable[256];
        snprintf(buf, size, "data.dataset: %s (the PyTorch script reads %s)",
                 nl_name_of(&nl_dataset_names, cfg->data.kind),
                 nl_dataset_names_joined(nl_dataset_torch_reads, ", ", " and ", readable,
                                         sizeof readable));
        return buf;
    }
    if (t->freeze_bn_after > 0 || t->bn_recalibrate_batches > 0)
        return "train.freeze_bn_after / train.bn_recalibrate: not in the PyTorch script";
    if (t->trace.activation[0])
        return "train.trace: not in the PyTorch script";
    if (t->log_grad_norms || t->log_attention_logits)
        return "train.log: not in the PyTorch script";
    return NULL;
}

/* the PyTorch side's Python (the pinned peer's venv unless --python) and
 * whether its torch runs the mode asked for (the script's --probe: torch
 * there and new enough), before anything is written; an exit status, or -1
 * to go on */
int bench_run_check_peer(run_options *o)
{
    if (access(o->peer, R_OK) != 0)
        return nl_cmd_usage_error("bench", "--torch: %s is not there (--peer)", o->peer);
    if (!o->python) {
        if (access(DEFAULT_PYTHON, X_OK) != 0)
            return nl_cmd_usage_error("bench", "--torch: no %s here: install the pinned PyTorch "
                                      "peer from the repository's root with `%s`, or give "
                                      "--python PATH (/usr/bin/python3: Debian's torch 1.13, "
                                      "--torch-mode eager)", DEFAULT_PYTHON, INSTALL_PEER);
        o->python = DEFAULT_PYTHON;
    } else if (access(o->python, X_OK) != 0) {
        return nl_cmd_usage_error("bench", "--torch: %s is not there (--python)", o->python);
    }
    /* best runs the compiled modes too, which need the newest torch */
    const bool best = o->torch_mode == NL_TORCH_BEST;
    const char *mode = nl_name_of(&nl_torch_mode_names, best ? NL_TORCH_COMPILE : o->torch_mode);
    const char *const argv[] = {o->python, o->peer, "--probe", "--mode", mode, NULL};
    nl_proc_end end;
    const int code = bench_run_child(argv, NULL, &end);
    if (code == 0)
        return -1;
    if (code == 2)
        return nl_cmd_usage_error("bench", "--torch-mode %s: %s cannot run it (its reason above)%s",
                                  nl_name_of(&nl_torch_mode_names, o->torch_mode), o->python,
                                  best ? "; --torch-mode eager runs PyTorch eager alone" : "");
    fprintf(stderr, "normlab bench: %s %s --probe: exit status %d\n", o->python, o->peer, code);
    return 1;
}

/* The PyTorch script's own verdict on the resolved config (`--check` with
 * the config on its standard input, so that nothing is written): -1 when it
 * mirrors it, else an exit status (2 with its reason, which it printed). */
int bench_run_peer_mirrors(const session *b)
{
    const char *const argv[] = {b->o.python, b->o.peer, "-", "--check", NULL};
    /* its "mirrored" line dropped; a refusal goes to stderr */
    const nl_proc_spec spec = {.argv = argv, .in = {NL_PROC_PIPE}, .err = {NL_PROC_INHERIT},
                               .die_with_parent = true};
    nl_proc p;
    nl_error err = {0};
    if (nl_proc_start(&spec, &p, &err) != NL_OK)
        return nl_cmd_report("bench", &err);
    /* a script that exits unread must not end this command with SIGPIPE */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, before;
    sigaction(SIGPIPE, &ignore, &before);
    FILE *to = fdopen(p.to_child, "w");
    nl_error unread = {0}; /* the script's exit status says what became of it */
    if (to) {
        nl_config_write(b->cfg, to, &unread);
        fclose(to);
    } else {
        close(p.to_child);
    }
    sigaction(SIGPIPE, &before, NULL);
    nl_proc_end end;
    if (nl_proc_wait(&p, -1, &end, &err) != NL_OK)
        return nl_cmd_report("bench", &err);
    const int code = nl_proc_status(&end);
    if (code == 0)
        return -1;
    if (code == 2)
        return nl_cmd_usage_error("bench", "--run %s: the PyTorch script (%s) does not mirror "
                                  "this config: its reason above", b->o.config, b->o.peer);
    fprintf(stderr, "normlab bench: %s %s --check: exit status %d\n", b->o.python, b->o.peer,
            code);
    return 1;
}
