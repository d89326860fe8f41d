#include "train/probe.h"

#include <stdlib.h>

const nl_probe_kind *const nl_probe_kinds[] = {
#define NL_PROBE(name) &nl_probe_##name,
#include "config/probes.def"
};
const int nl_probe_kind_count = (int)(sizeof nl_probe_kinds / sizeof nl_probe_kinds[0]);

#define NL_PROBE_LOG(name, leaf, doc)                                   \
    const char nl_probe_log_key_##name[] = "train.log." #leaf;          \
    bool nl_probe_log_on_##name(const nl_train_spec *spec)              \
    {                                                                   \
        return spec->log_probe[NL_PROBE_LOG_##name];                    \
    }
#include "config/probes.def"

nl_code nl_probes_check(const nl_probe_plan *plan, nl_error *err)
{
    for (int k = 0; k < nl_probe_kind_count; k++) {
        const nl_probe_kind *kind = nl_probe_kinds[k];
        nl_code rc;
        if (kind->check && kind->on(plan->spec) && (rc = kind->check(plan, err)) != NL_OK)
            return rc;
    }
    return NL_OK;
}

bool nl_probes_write_series(const nl_train_spec *spec)
{
    for (int k = 0; k < nl_probe_kind_count; k++)
        if (nl_probe_kinds[k]->series[0] != NL_SERIES_COUNT && nl_probe_kinds[k]->on(spec))
            return true;
    return false;
}

nl_code nl_probes_open(nl_probes *p, const nl_probe_env *env, nl_error *err)
{
    p->env = *env;
    p->n = 0;
    p->kinds = calloc((size_t)nl_probe_kind_count, sizeof *p->kinds);
    p->selves = calloc((size_t)nl_probe_kind_count, sizeof *p->selves);
    if (!p->kinds || !p->selves) {
        nl_probes_close(p);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the probes");
    }
    for (int k = 0; k < nl_probe_kind_count; k++) {
        const nl_probe_kind *kind = nl_probe_kinds[k];
        if (!kind->on(env->spec))
            continue;
        void *self = calloc(1, kind->size);
        if (!self) {
            nl_probes_close(p);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory for %s", kind->key);
        }
        bool on = false;
        const nl_code rc = kind->open(self, &p->env, &on, err);
        if (rc != NL_OK || !on) {
            kind->close(self, env->m);
            free(self);
            if (rc != NL_OK) {
                nl_probes_close(p);
                return rc;
            }
            continue;
        }
        p->kinds[p->n] = kind;
        p->selves[p->n++] = self;
    }
    return NL_OK;
}

void nl_probes_close(nl_probes *p)
{
    for (int i = 0; i < p->n; i++) {
        p->kinds[i]->close(p->selves[i], p->env.m);
        free(p->selves[i]);
    }
    free(p->kinds);
    free(p->selves);
    p->kinds = NULL;
    p->selves = NULL;
    p->n = 0;
}

bool nl_probe_due_at_evaluations(const void *self, const nl_probe_env *env, const nl_probe_at *at)
{
    (void)self, (void)env;
    return at->point == NL_PROBE_BETWEEN_STEPS && at->evaluating;
}

bool nl_probes_due(const nl_probes *p, const nl_probe_at *at)
{
    for (int i = 0; i < p->n; i++)
        if (p->kinds[i]->due(p->selves[i], &p->env, at))
            return true;
    return false;
}

nl_code nl_probes_run(nl_probes *p, const nl_probe_at *at, nl_error *err)
{
    nl_code rc = NL_OK;
    for (int i = 0; i < p->n && rc == NL_OK; i++) {
        const nl_probe_kind *kind = p->kinds[i];
        if (!kind->due(p->selves[i], &p->env, at))
            continue;
        rc = kind->observe(p->selves[i], &p->env, at, err);
        if (rc == NL_OK)
            rc = kind->emit(p->selves[i], &p->env, at->step, err);
    }
    return rc;
}
