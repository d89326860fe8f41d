#include "train/run_summary.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "device/device.h"
#include "log/files.h"
#include "results/files.h"
#include "results/summary_keys.h"
#include "version_git.h"

static void iso_time(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void nl_run_facts_start(nl_run_facts *f)
{
    iso_time(f->started, sizeof f->started);
}

/* init.from: the run's identity includes the model it started from */
static void put_init_source(nl_json *j, const nl_run_facts *f)
{
    if (!f->init_source.path[0])
        return;
    char hash[20];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)f->init_source.model_hash);
    nl_json_string(j, NL_SUMMARY_INIT_FROM, f->init_source.path);
    nl_json_string(j, NL_SUMMARY_INIT_FROM_MODEL_FNV1A64, hash);
    nl_json_int(j, NL_SUMMARY_INIT_FROM_STEP, f->init_source.step);
}

/* where the run computed: threads, ranks, cores, and what fixes its bits */
static void put_machine(nl_json *j, const nl_run_facts *f)
{
    nl_json_int(j, NL_SUMMARY_THREADS, f->threads);
    nl_json_int(j, NL_SUMMARY_RANKS, f->ranks);
    nl_json_int(j, NL_SUMMARY_RANK_BATCH_SIZE, f->rank_batch);
    nl_json_int(j, NL_SUMMARY_USABLE_CORES, f->usable_cores);
    nl_json_number(j, NL_SUMMARY_BUSY_CORES_AT_START, f->busy_cores);
    /* results repeat bit for bit for one kernel set and thread count: which
     * set computed them (cpu/host.c), empty on a GPU */
    nl_json_string(j, NL_SUMMARY_CPU_KERNELS, f->cpu_kernels ? f->cpu_kernels : "");
    /* and OpenBLAS's core (each set pins one, cpu/host.c), empty on a GPU */
    nl_json_string(j, NL_SUMMARY_OPENBLAS_CORE, f->openblas_core ? f->openblas_core : "");
    /* and the library of the matrix products (NORMLAB_GEMM, cpu/products.c), empty on a GPU */
    nl_json_string(j, NL_SUMMARY_PRODUCTS, f->products ? f->products : "");
    /* and the library the fp32 convolutions ran on (cpu/conv_onednn.h), empty on a GPU */
    nl_json_string(j, NL_SUMMARY_CONV_LIBRARY, f->conv_library ? f->conv_library : "");
    /* and how many convolutions that library's rule took ran on normlab's
     * path instead (an unplanned batch that did not fit): 0 where it ran all */
    if (f->conv_fallbacks)
        nl_json_int(j, NL_SUMMARY_CONV_LIBRARY_FALLBACKS, *f->conv_fallbacks);
    /* and the implementations oneDNN picked for them ("brg:avx512_core_amx_bf16"
     * where the AMX set's ran on the tiles), "" where none ran there */
    if (f->conv_kernels)
        nl_json_string(j, NL_SUMMARY_CONV_KERNELS, f->conv_kernels);
    /* and whether the formula layers ran native code or the interpreter
     * (the same bits either way), absent without formula layers */
    if (f->formula_kernels[0])
        nl_json_string(j, NL_SUMMARY_FORMULA_KERNELS, f->formula_kernels);
}

/* "nchw", or "blocked (nChw16c)" with the block the run used; false for a
 * model without images */
static bool image_layout(const nl_model *m, char *buf, size_t size)
{
    bool images = false;
    for (int i = 0; i < m->n_acts; i++) {
        if (m->acts[i]->shape.block) {
            snprintf(buf, size, "blocked (nChw%dc)", m->acts[i]->shape.block);
            return true;
        }
        images |= m->acts[i]->shape.ndim == 4 && m->acts[i]->shape.h * m->acts[i]->shape.w > 1;
    }
    snprintf(buf, size, "nchw");
    return images;
}

nl_code nl_run_summary_write(const char *dir, const nl_config *cfg, const nl_model *model,
                             const nl_run_facts *f, const nl_train_result *r, nl_error *err)
{
    char finished[32], host[256] = "", cpu[256];
    iso_time(finished, sizeof finished);
    gethostname(host, sizeof host - 1);
    nl_json j;
    nl_json_begin(&j);
    nl_json_string(&j, NL_SUMMARY_NAME, cfg->name);
    nl_json_string(&j, NL_SUMMARY_STATUS, nl_run_status_name(r->status));
    nl_json_string(&j, NL_SUMMARY_REASON, r->reason);
    nl_json_int(&j, NL_SUMMARY_STEPS, r->steps);
    nl_json_number(&j, NL_SUMMARY_EPOCHS, r->epochs);
    nl_json_number(&j, NL_SUMMARY_FINAL_TRAIN_LOSS, r->final_train_loss);
    nl_json_number(&j, NL_SUMMARY_FINAL_TEST_LOSS, r->final_test_loss);
    nl_json_number(&j, NL_SUMMARY_FINAL_TEST_ACCURACY, r->final_test_accuracy);
    nl_json_number(&j, NL_SUMMARY_FINAL_TEST_TRAINMODE_ACCURACY, r->final_trainmode_accuracy);
    /* train.bn_recalibrate: the final evaluation before it (final_* are after) */
    nl_json_number(&j, NL_SUMMARY_TEST_LOSS_BEFORE_RECALIBRATION, r->unrecalibrated_test_loss);
    nl_json_number(&j, NL_SUMMARY_TEST_ACCURACY_BEFORE_RECALIBRATION, r->unrecalibrated_test_accuracy);
    nl_json_number(&j, NL_SUMMARY_BN_FROZEN_FROM_STEP, r->frozen_from_step > 0 ? (double)r->frozen_from_step : NAN);
    nl_json_number(&j, NL_SUMMARY_BEST_TEST_LOSS, r->best_test_loss);
    nl_json_number(&j, NL_SUMMARY_BEST_TEST_ACCURACY, r->best_test_accuracy);
    if (model && model->rows_per_sample > 1) {
        /* token models: losses per token in nats; in bits, per character
         * for a text of one byte per character */
        nl_json_number(&j, NL_SUMMARY_FINAL_TRAIN_BITS_PER_TOKEN, r->final_train_loss / log(2.0));
        nl_json_number(&j, NL_SUMMARY_FINAL_TEST_BITS_PER_TOKEN, r->final_test_loss / log(2.0));
        nl_json_number(&j, NL_SUMMARY_BEST_TEST_BITS_PER_TOKEN, r->best_test_loss / log(2.0));
        nl_json_number(&j, NL_SUMMARY_TOKENS_PER_S, r->samples_per_s * model->rows_per_sample);
    }
    nl_json_number(&j, NL_SUMMARY_WALL_S, r->wall_s);
    nl_json_number(&j, NL_SUMMARY_TRAIN_S, r->train_s);
    nl_json_number(&j, NL_SUMMARY_SAMPLES_PER_S, r->samples_per_s);
    /* MPI: of train_s and the evaluations, the time rank 0 spent in the
     * exchanges with the other ranks, waiting for the slowest included */
    nl_json_number(&j, NL_SUMMARY_EXCHANGE_S, f->exchange_s);
    /* train.cuda_graph: how many of the steps ran as a replay (0: every
     * step launched its kernels), so a measured speed says which it was */
    nl_json_int(&j, NL_SUMMARY_REPLAYED_STEPS, r->replayed_steps);
    nl_json_int(&j, NL_SUMMARY_SEED, (long long)cfg->seed);
    put_machine(&j, f);
    nl_json_string(&j, NL_SUMMARY_CPU, nl_backend_cpu_description(cpu, sizeof cpu)); /* a sweep can span machines */
    /* train.precision: the products' format (fp32 when no autocast) */
    nl_json_string(&j, NL_SUMMARY_PRECISION, nl_name_of(&nl_precision_names, cfg->train.precision));
    /* model.layout: the images' layout, which fixes the order of the
     * normalizers' sums (left out for models without images) */
    char layout[32];
    if (model && image_layout(model, layout, sizeof layout))
        nl_json_string(&j, NL_SUMMARY_LAYOUT, layout);
    nl_json_string(&j, NL_SUMMARY_DEVICE, nl_name_of(&nl_device_names, (int)f->device));
    nl_json_string(&j, NL_SUMMARY_DATASET, f->data_description ? f->data_description : "");
    nl_json_int(&j, NL_SUMMARY_PARAMETERS, model ? (long long)nl_model_param_total(model) : 0);
    nl_json_number(&j, NL_SUMMARY_MFLOP_PER_SAMPLE_FORWARD,
                   model ? nl_model_forward_flops(model) / 1e6 : NAN);
    nl_json_string(&j, NL_SUMMARY_NORMLAB_VERSION, NORMLAB_VERSION);
    nl_json_string(&j, NL_SUMMARY_GIT_COMMIT, NORMLAB_GIT_COMMIT);
    nl_json_string(&j, NL_SUMMARY_STARTED_AT, f->started);
    nl_json_string(&j, NL_SUMMARY_FINISHED_AT, r->status == NL_RUN_RUNNING ? "" : finished);
    nl_json_string(&j, NL_SUMMARY_HOST, host);
    nl_json_string(&j, NL_SUMMARY_COMMAND, f->command_line ? f->command_line : "");
    put_init_source(&j, f);
    nl_json_end(&j);
    if (j.buf.failed) {
        nl_buf_free(&j.buf);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing the summary");
    }
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_RUN_SUMMARY_FILE);
    nl_code rc = nl_write_atomic(path, j.buf.data, j.buf.len, err);
    nl_buf_free(&j.buf);
    return rc;
}
