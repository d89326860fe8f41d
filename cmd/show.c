/* normlab show: what a config builds, or what a run directory holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/registry.h"
#include "cmd.h"
#include "config/config.h"
#include "config/norm_label.h"
#include "data/registry.h"
#include "device/device.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/kinds.h"
#include "plan/plan.h"
#include "results/files.h"
#include "results/run_result.h"
#include "results/rundir.h"
#include "results/store.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/final_model.h"
#include "train/run_model.h"
#include "train/run.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab show CONFIG.yaml [--set KEY=VALUE]... [--params]\n"
            "       normlab show RUN_DIR [--params]\n\n"
            "Builds the model a config describes (on the CPU, without data or training) and\n"
            "prints its layers with their output shapes and parameter counts, the totals,\n"
            "and the activation names train.trace.activation accepts. For a run directory it\n"
            "first prints the run's status and results from summary.json, then the model of\n"
            "its config.yaml. A run that did not finish is running (a live process holds it)\n"
            "or interrupted (none does), shown with its last metrics.csv row and checkpoint;\n"
            "a summary.json cut short is reported as torn.\n\n"
            "  --params  instead, the model's parameters as CSV (name,shape,offset,decayed):\n"
            "            PyTorch state_dict names, shapes as AxB, each one's offset in floats\n"
            "            into the parameter arena that final.nlck and checkpoint.nlck hold\n"
            "            (the decayed weights first, then normalizers and biases, each in\n"
            "            build order, padded to 16 floats): how a script reads a run's\n"
            "            weights (experiments/normlab_py/normlab_files.py)\n\n"
            "Exit status: 0 shown, 1 failure at run time, 2 bad usage, config or directory.\n");
}

/* the run's length by its config: train.steps, or epochs over a training
 * split the config sizes; 0 when only the loaded data would tell */
static long planned_steps(const nl_config *cfg)
{
    if (!cfg)
        return 0;
    if (cfg->train.steps > 0)
        return cfg->train.steps;
    if (nl_model_spec_tokens(&cfg->model) || cfg->data.train_size <= 0 || cfg->train.batch_size <= 0)
        return 0;
    return nl_train_total_steps(&cfg->train, cfg->data.train_size);
}

/* how far a run that did not finish got, by its metrics.csv and checkpoint */
static void print_progress(const char *dir, const nl_config *cfg, const char *missing)
{
    nl_run_progress p;
    nl_read_run_progress(dir, &p);
    const long total = planned_steps(cfg);
    if (p.last_step < 0)
        printf("  no step recorded in metrics.csv");
    else if (total > 0)
        printf("  last recorded step %ld of %ld", p.last_step, total);
    else
        printf("  last recorded step %ld", p.last_step);
    if (isfinite(p.last_train_loss))
        printf(", training loss %.4g", p.last_train_loss);
    if (p.last_test_step >= 0 && isfinite(p.last_test_accuracy))
        printf(", test accuracy %.2f%% at step %ld", 100.0 * p.last_test_accuracy, p.last_test_step);
    printf("; %s\n", missing);
    if (p.cut_line)
        printf("  metrics.csv line %d is cut short (its writer stopped mid-row): left out\n", p.cut_line);
    const long checkpoint_step = nl_checkpoint_step(dir);
    if (checkpoint_step >= 0)
        printf("  checkpoint at step %ld: the same command resumes from there\n", checkpoint_step);
}

/* init.from's identity as the run recorded it, and whether the source's
 * final model is still the one it started from */
static void init_from_line(const char *json, char *line, size_t size)
{
    char from[1024] = "", hash[32] = "", step[32] = "";
    line[0] = '\0';
    if (!nl_json_flat_get(json, NL_SUMMARY_INIT_FROM, from, sizeof from) || !from[0])
        return;
    nl_json_flat_get(json, NL_SUMMARY_INIT_FROM_MODEL_FNV1A64, hash, sizeof hash);
    nl_json_flat_get(json, NL_SUMMARY_INIT_FROM_STEP, step, sizeof step);
    char path[1100], *bytes = NULL, now[32] = "";
    size_t len = 0;
    nl_error err = {0};
    nl_path_join(path, sizeof path, from, NL_FINAL_MODEL_FILE);
    if (nl_read_file(path, &bytes, &len, &err) == NL_OK)
        snprintf(now, sizeof now, "%016llx", (unsigned long long)nl_checkpoint_hash(bytes, len));
    free(bytes);
    const bool changed = now[0] && strcmp(now, hash) != 0;
    snprintf(line, size, "  started from %s: its final model at step %s, FNV-1a 64 %s%s%s%s\n",
             from, step, hash, !now[0] ? " (that file is gone now)" : changed ? " (that file "
             "has changed since: now " : "", changed ? now : "", changed ? ")" : "");
}

/* a run with no outcome yet: running while a process holds it (`running`
 * added), else how it stopped (`stopped`); then how far it got */
static void print_no_outcome(const char *dir, const nl_config *cfg, bool busy, const char *who,
                             const char *running, const char *stopped)
{
    if (busy)
        printf("%s: running%s%s\n", dir, who, running);
    else
        printf("%s: %s\n", dir, stopped);
    print_progress(dir, cfg, "no final test accuracy yet");
}

/* the run's outcome from its summary.json; a run that did not finish says
 * whether a live process holds it (running) or none does (interrupted), and
 * how far it got */
static void print_run_status(const char *dir, const nl_config *cfg)
{
    char *json = NULL;
    nl_run_writer writer;
    const bool busy = nl_run_dir_busy(dir, &writer);
    char who[200] = "";
    if (busy && writer.pid > 0)
        snprintf(who, sizeof who, " (pid %ld%s%s)", writer.pid, writer.host[0] ? " on " : "", writer.host);
    const nl_summary_verdict verdict = nl_summary_read(dir, &json);
    if (verdict == NL_SUMMARY_ABSENT) {
        print_no_outcome(dir, cfg, busy, who, ", no summary.json yet",
                         "unfinished: no summary.json (the run never started, or was killed "
                         "before writing one)");
        return;
    }
    if (verdict == NL_SUMMARY_TORN) {
        printf("%s: summary.json is torn or unreadable (cut short, not valid JSON, or without a "
               "status): no result can be read from it%s\n", dir,
               busy ? "; a process holds the run" : "");
        print_progress(dir, cfg, "no final test accuracy can be read");
        return;
    }
    const char *status = nl_summary_verdict_name(verdict);
    char reason[512] = "", steps[32] = "?", acc[32] = "", sps[32] = "", wall[32] = "";
    nl_json_flat_get(json, NL_SUMMARY_REASON, reason, sizeof reason);
    nl_json_flat_get(json, NL_SUMMARY_STEPS, steps, sizeof steps);
    nl_json_flat_get(json, NL_SUMMARY_FINAL_TEST_ACCURACY, acc, sizeof acc);
    nl_json_flat_get(json, NL_SUMMARY_SAMPLES_PER_S, sps, sizeof sps);
    nl_json_flat_get(json, NL_SUMMARY_WALL_S, wall, sizeof wall);
    char identity[1600]; /* printed after the status line */
    init_from_line(json, identity, sizeof identity);
    free(json);
    const bool finished = nl_summary_finished(verdict);
    if (verdict == NL_SUMMARY_RUNNING) {
        /* written at the start: the steps and results in it are not yet any */
        print_no_outcome(dir, cfg, busy, who, "",
                         "interrupted: summary.json still says running, but no process holds "
                         "the run (killed, or its machine stopped)");
        return;
    }
    printf("%s: %s%s%s%s, %s steps", dir, status, reason[0] ? " (" : "", reason, reason[0] ? ")" : "",
           steps);
    char duration[32];
    if (acc[0] && strcmp(acc, "null") != 0 && finished)
        printf(", final test accuracy %.2f%%", 100.0 * atof(acc));
    else if (acc[0] && strcmp(acc, "null") != 0)
        printf(", test accuracy %.2f%% at its last evaluation (no final one)", 100.0 * atof(acc));
    else if (!finished)
        printf(", no final test accuracy");
    if (wall[0] && strcmp(wall, "null") != 0)
        printf(", %s", nl_cmd_duration(duration, sizeof duration, atof(wall)));
    if (sps[0] && strcmp(sps, "null") != 0)
        printf(", %.0f samples/s", atof(sps));
    printf("\n");
    fputs(identity, stdout);
    if (!finished)
        print_progress(dir, cfg, "no final test accuracy yet");
}

/* the parameters' names, shapes and arena offsets, as CSV */
static void print_params(const nl_model *m, nl_buf *text)
{
    nl_buf_printf(text, "name,shape,offset,decayed\n");
    for (int k = 0; k < m->n_params; k++) {
        const nl_param *p = m->params[k];
        nl_buf_printf(text, "%s,", p->name);
        for (int d = 0; d < p->ndim; d++)
            nl_buf_printf(text, "%s%d", d ? "x" : "", p->dims[d]);
        nl_buf_printf(text, ",%zu,%d\n", p->offset, !p->is_norm_or_bias);
    }
}

/* the model's layers, totals and the activation names a trace accepts */
static void describe_model(const char *what, const nl_config *cfg,
                           const nl_model *m, nl_buf *text)
{
    const nl_train_spec *train = &cfg->train;
    nl_error err = {0};
    nl_buf_printf(text, "%s: model of '%s'\n", what, cfg->name);
    /* the architecture's row: what it is and the placements it takes */
    const nl_arch_info *arch = nl_arch_info_of(cfg->model.arch);
    char placements[128];
    nl_buf_printf(text, "  %s: %s; model.norm.placement %s (accepted: %s)\n", arch->id.name,
                  arch->id.help, nl_name_of(&nl_placement_names, cfg->model.norm.placement),
                  nl_arch_placements_text(arch, " | ", placements, sizeof placements));
    /* the normalizer by the one name tables, legends and claims give it */
    char norm[NL_NORM_LABEL_SIZE];
    nl_norm_label_of_config(cfg, norm, sizeof norm);
    if (nl_norm_type_is_formula(nl_name_of(&nl_norm_names, cfg->model.norm.kind)))
        nl_buf_printf(text, "  normalizer: %s, a formula (model.norm.type %s): %s\n", norm,
                      nl_name_of(&nl_norm_names, cfg->model.norm.kind), cfg->model.norm.expr);
    else
        nl_buf_printf(text, "  normalizer: %s\n", norm);
    /* what the plan's passes decided, before the table shows it */
    nl_plan_describe(&cfg->model, &m->spec, text);
    nl_model_summary(m, text);
    /* a run with train.trace keeps ReLU and max pooling apart, so its
     * activations are those of the unfused model: its planned graph for
     * the training batch alone (only the names are needed, no memory) */
    nl_model *traced = NULL;
    nl_model_spec unfused = cfg->model;
    unfused.fuse_relu_pool = false;
    unfused.fuse_norm_relu = false;
    const nl_plan_run traced_run = {.precision = train->precision,
                                    .train_batch = train->batch_size,
                                    .capacity = train->batch_size, .threads = 1};
    /* token models take no trace (nl_run_check) */
    if (nl_model_spec_tokens(&cfg->model) || nl_plan_graph(&unfused, &traced_run, &traced, &err) != NL_OK)
        traced = NULL;
    const nl_model *names = traced ? traced : m;
    if (!nl_model_spec_tokens(&cfg->model)) {
        /* the names the run's check accepts (nl_trace_accepts), not every
         * activation: a ViT's token activations take no trace */
        nl_buf_printf(text, "  train.trace.activation accepts:");
        for (int i = 0; i < names->n_acts; i++)
            if (nl_trace_accepts(names->acts[i]))
                nl_buf_printf(text, " %s", names->acts[i]->name);
        /* <layer>.in of the layers that read an accepted activation */
        int readers = 0;
        for (int i = 0; i < names->n_layers; i++)
            if (names->layers[i]->in[0] && nl_trace_accepts(names->layers[i]->in[0]) && readers++ < 3)
                nl_buf_printf(text, "%s%s.in", readers > 1 ? ", " : ", or the input of a layer that reads one: ",
                              names->layers[i]->name);
        nl_buf_printf(text, "%s\n", readers > 3 ? ", ..." : "");
    } else {
        /* what the check says of any name (nl_run_check) */
        nl_buf_printf(text, "  train.trace.activation accepts nothing: token models take no activation trace\n");
        /* a dataset that reads data.vocabulary knows its chars only once read */
        if ((nl_dataset_kinds_with_key("data.vocabulary") & (1u << cfg->data.kind)) &&
            cfg->data.vocab == NL_VOCAB_CHARS)
            nl_buf_printf(text, "  (planned for 256 tokens: a run takes the text's own characters)\n");
    }
    nl_plan_graph_done(traced);
}

static int show_model(const char *what, const nl_config *cfg, bool params)
{
    nl_error err = {0};
    /* the graph a run of cfg plans (its fusions, as NORMLAB_FUSE and the
     * probes leave them), which validation planned: no memory, no backend */
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    nl_model *m = NULL;
    if (nl_plan_graph(&spec, &run, &m, &err) != NL_OK)
        return nl_cmd_report("show", &err);
    nl_buf text = {0};
    if (params)
        print_params(m, &text);
    else
        describe_model(what, cfg, m, &text);
    int status = 0;
    if (text.failed) {
        fprintf(stderr, "normlab show: out of memory\n");
        status = 1;
    } else {
        nl_cmd_put_text(stdout, text.data);
    }
    nl_buf_free(&text);
    nl_plan_graph_done(m);
    return status;
}

/* the config.yaml of a run inside a packed sweep */
static nl_code load_packed(const char *run_dir, const char *config_path, nl_config *cfg, nl_error *err)
{
    char *text = NULL;
    nl_code rc = nl_run_file_read(run_dir, NL_RUN_CONFIG_FILE, &text, NULL, err);
    if (!rc)
        rc = nl_config_load_string(text, config_path, NULL, 0, cfg, err);
    free(text);
    return rc;
}

int cmd_show(int argc, char **argv)
{
    const char *target = NULL, *overrides[256];
    int n_overrides = 0;
    bool params = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nl_cmd_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--set") == 0) {
            const int bad = nl_cmd_take_set("show", argc, argv, &i, overrides, &n_overrides, 256);
            if (bad)
                return bad;
        } else if (strcmp(a, "--params") == 0) {
            params = true;
        } else if (nl_cmd_operand("show", a, &target, "config or run directory")) {
            return 2;
        }
    }
    if (!target)
        return nl_cmd_usage_error("show", "no config file or run directory given");
    char config_path[1200];
    snprintf(config_path, sizeof config_path, "%s", target);
    bool packed; /* a run of a packed sweep (results/store.h) */
    nl_error pack_err = {0};
    if (nl_run_pack_check(target, &packed, &pack_err))
        return nl_cmd_report("show", &pack_err);
    const bool run_dir = nl_is_dir(target) || packed;
    if (run_dir) {
        if (n_overrides)
            return nl_cmd_usage_error("show", "--set applies to a config, not to a run directory");
        nl_path_join(config_path, sizeof config_path, target, NL_RUN_CONFIG_FILE);
        if (!nl_run_file_exists(target, NL_RUN_CONFIG_FILE)) {
            fprintf(stderr, "normlab show: %s is not a run directory (it has no config.yaml)\n", target);
            return 2;
        }
        nl_error err = {0};
        if (!packed && nl_run_dir_check_files(target, &err))
            return nl_cmd_report("show", &err);
    }
    nl_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return 1;
    nl_error err = {0};
    int status;
    bool loaded = packed ? load_packed(target, config_path, cfg, &err) == NL_OK
                         : nl_config_load(config_path, overrides, n_overrides, cfg, &err) == NL_OK;
    /* a run another CPU planned (its block) is shown as this one plans its
     * record, saying why: summary.json keeps the layout that ran */
    nl_error replanned = {0};
    if (!loaded && run_dir && !packed && nl_config_load_record(config_path, NULL, 0, cfg, &replanned) == NL_OK) {
        loaded = true;
        printf("note: this CPU cannot plan the run as it recorded it (%s); shown as planned here, "
               "its layout as it ran is summary.json's\n", err.msg);
    }
    if (run_dir && !params)
        print_run_status(target, loaded ? cfg : NULL);
    if (!loaded)
        status = nl_cmd_report("show", &err);
    else
        status = show_model(config_path, cfg, params);
    free(cfg);
    return status;
}
