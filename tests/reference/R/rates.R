# Rates from event counts with person-time: R's poisson.test (one group: exact Garwood limits; two groups:
# the exact conditional binomial test and limits of the rate ratio), and the rate models glm(poisson) and
# MASS::glm.nb on per-patient skeletal-event counts (data/sre_counts.csv, made by bm.event_counts from
# Cohort.recurrent_events(window_days=21) of a synthetic cohort: tests/reference/sre_counts.py).
# Run from tests/reference/:  Rscript make_reference.R rates
suppressPackageStartupMessages({ library(MASS); library(jsonlite) })
out <- list()

d <- read.csv("data/sre_counts.csv", stringsAsFactors = FALSE)
bta_levels <- c("none", "zoledronic_acid", "pamidronate", "ibandronate", "clodronate", "denosumab")
d$bta_type <- factor(d$bta_type, levels = bta_levels[bta_levels %in% d$bta_type])

one <- function(x, pt, conf.level = 0.95) {
  t <- poisson.test(x, pt, conf.level = conf.level)
  list(x = x, T = pt, conf_level = conf.level, estimate = unname(t$estimate), lower = t$conf.int[1],
       upper = t$conf.int[2], p_value = t$p.value)
}
two <- function(x, pt, conf.level = 0.95) {
  t <- poisson.test(x, pt, r = 1, conf.level = conf.level)
  list(x = x, T = pt, conf_level = conf.level, estimate = unname(t$estimate), lower = t$conf.int[1],
       upper = t$conf.int[2], p_value = t$p.value)
}

# per group of the per-patient table: sum of counts and of person-time
x <- tapply(d$n_events, d$bta_type, sum)
pt <- tapply(d$person_time, d$bta_type, sum)
out$sre_by_bta <- lapply(levels(d$bta_type), function(g) c(list(group = g), one(x[[g]], pt[[g]])))
out$sre_ratio_vs_none <- lapply(levels(d$bta_type)[-1], function(g)
  c(list(group = g), two(c(x[[g]], x[["none"]]), c(pt[[g]], pt[["none"]]))))
out$sre_ratio_vs_none_90 <- lapply(levels(d$bta_type)[-1], function(g)
  c(list(group = g), two(c(x[[g]], x[["none"]]), c(pt[[g]], pt[["none"]]), conf.level = 0.9)))
# edge cases: no events in one group, in the reference, small and large counts, unequal person-time
out$pairs <- list(
  two(c(0, 5), c(10.5, 12.25)), two(c(4, 0), c(3.3, 8)), two(c(1, 1), c(1, 100)),
  two(c(250, 180), c(1234.5, 1500.25)), two(c(7, 3), c(2.2, 9.9), conf.level = 0.99),
  two(c(12, 30), c(40, 40))
)
out$singles <- list(one(0, 12.5), one(1, 0.5), one(37, 201.3), one(598, 311.25, conf.level = 0.9))

coefs <- function(f) {
  cf <- summary(f)$coefficients
  list(term = rownames(cf), coef = unname(cf[, 1]), std_err = unname(cf[, 2]), statistic = unname(cf[, 3]),
       p_value = unname(cf[, 4]), lower = unname(confint.default(f)[, 1]), upper = unname(confint.default(f)[, 2]))
}
# a tight epsilon: summary.glm takes its standard errors from the weights of the last IRLS iteration, which at the
# default 1e-8 still differ from those at the optimum in the fifth digit
tight <- glm.control(epsilon = 1e-14, maxit = 100)
fp <- glm(n_events ~ age + bta_type + offset(log(person_time)), family = poisson, data = d, control = tight)
out$poisson <- c(coefs(fp), list(deviance = deviance(fp), aic = AIC(fp), loglik = as.numeric(logLik(fp))))
fn <- glm.nb(n_events ~ age + bta_type + offset(log(person_time)), data = d, control = tight)
out$negative_binomial <- c(coefs(fn), list(theta = fn$theta, theta_se = fn$SE.theta, deviance = deviance(fn),
                                           aic = AIC(fn), loglik = as.numeric(logLik(fn))))
out$sre_rate_per_patient_year <- sum(d$n_events) / sum(d$person_time)

out$versions <- list(R = R.version.string, MASS = as.character(packageVersion("MASS")),
                     stats = as.character(packageVersion("stats")))
write_json(out, "rates.json", digits = NA, auto_unbox = TRUE)
