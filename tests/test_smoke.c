// a first smoke test; replaced by the real suites
#include "testutil.h"
#include "model/model.h"
#include "optim/optim.h"

START_TEST(test_mlp_trains)
{
    nl_backend *be = tu_cpu(2);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build(&spec, be, 16, 16, 1, &m, &err) == NL_OK, "%s", err.msg);
    float x[16 * 784];
    int32_t y[16];
    tu_fill_normal(x, 16 * 784, 3, 0, 1);
    for (int i = 0; i < 16; i++)
        y[i] = i % 10;
    nl_sgd_spec sgd;
    nl_sgd_spec_defaults(&sgd);
    double first = 0, last = 0;
    for (int step = 0; step < 30; step++) {
        nl_model_reset_metrics(m);
        nl_model_load_batch(m, x, y, 16);
        nl_model_forward(m, 16, NL_MODE_TRAIN);
        nl_model_backward(m, 16);
        nl_sgd_step(m, &sgd, 0.05f, step);
        double met[2];
        nl_model_read_metrics(m, met);
        if (step == 0)
            first = met[0] / 16;
        last = met[0] / 16;
    }
    ck_assert_msg(last < first * 0.5, "loss %g -> %g", first, last);
    nl_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("smoke");
    TCase *tc = tcase_create("smoke");
    tcase_add_test(tc, test_mlp_trains);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
