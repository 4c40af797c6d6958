# Bone metastasis at diagnosis (R 4.2.2, stats + MASS): proportions with prop.test(correct = FALSE) (Wilson)
# and binom.test (Clopper-Pearson) overall and by subtype, and glm(family = binomial) with Wald and
# profile-likelihood limits.  Writes tests/reference/binary.json.
# confint() on a glm (MASS:::confint.glm in R 4.2) interpolates a spline through a grid of profile points;
# the exact limits (the roots of the profile deviance, found with uniroot to 1e-12) are written alongside.
suppressPackageStartupMessages({ library(MASS); library(jsonlite) })

p <- read.csv("../../datasets/bm_cohort/patients.csv", stringsAsFactors = FALSE)
d <- function(x) as.Date(ifelse(x == "", NA, x))
p$bm_at_dx <- as.integer(!is.na(d(p$bm_date)) & d(p$bm_date) <= d(p$dx_date))
p$subtype <- factor(p$subtype, levels = c("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "TNBC", "unknown"))
p$histology <- factor(p$histology, levels = c("ductal", "lobular", "other"))

props <- function(x, n, level) {
  w <- prop.test(x, n, correct = FALSE, conf.level = level)
  b <- binom.test(x, n, conf.level = level)
  list(events = x, n = n, estimate = x / n, wilson = unname(w$conf.int), clopper_pearson = unname(b$conf.int))
}
ref <- list(versions = list(R = R.version.string, MASS = as.character(packageVersion("MASS"))))
ref$overall <- props(sum(p$bm_at_dx), nrow(p), 0.95)
ref$overall_90 <- props(sum(p$bm_at_dx), nrow(p), 0.90)
ref$by_subtype <- lapply(levels(p$subtype), function(s) {
  sub <- p$bm_at_dx[p$subtype == s]; c(list(group = s), props(sum(sub), length(sub), 0.95))
})
ref$edge <- list(zero = props(0, 20, 0.95), all = props(20, 20, 0.95), one = props(1, 1, 0.95))

exact_profile <- function(fit, level = 0.95) {
  X <- model.matrix(fit); y <- fit$y
  cut <- fit$deviance + qchisq(level, 1)
  dev_at <- function(j, b) glm.fit(X[, -j, drop = FALSE], y, family = binomial(), offset = X[, j] * b,
                                   control = glm.control(epsilon = 1e-14, maxit = 100))$deviance - cut
  t(sapply(seq_len(ncol(X)), function(j) {
    b <- coef(fit)[j]; s <- sqrt(diag(vcov(fit)))[j]
    lo <- uniroot(function(v) dev_at(j, v), c(b - 6 * s, b), tol = 1e-12)$root
    hi <- uniroot(function(v) dev_at(j, v), c(b, b + 6 * s), tol = 1e-12)$root
    c(lo, hi)
  }))
}
model <- function(formula) {
  fit <- glm(formula, family = binomial, data = p, control = glm.control(epsilon = 1e-14, maxit = 100))
  s <- summary(fit)$coefficients
  ci <- suppressMessages(confint(fit))
  ex <- exact_profile(fit)
  list(names = rownames(s), coef = unname(s[, 1]), se = unname(s[, 2]), z = unname(s[, 3]), p = unname(s[, 4]),
       profile_lower = unname(ci[, 1]), profile_upper = unname(ci[, 2]),
       exact_lower = ex[, 1], exact_upper = ex[, 2],
       wald_lower = unname(confint.default(fit)[, 1]), wald_upper = unname(confint.default(fit)[, 2]),
       deviance = fit$deviance, null_deviance = fit$null.deviance, aic = fit$aic, n = nrow(p))
}
ref$logistic <- model(bm_at_dx ~ subtype + age + grade + histology)
ref$logistic_subtype <- model(bm_at_dx ~ subtype)
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, null = "null", na = "null"), "binary.json")
by <- sapply(ref$by_subtype, function(r) c(r$events, r$n))
h <- suppressWarnings(prop.test(by[1, ], by[2, ], correct = FALSE))
ref$homogeneity <- list(statistic = unname(h$statistic), df = unname(h$parameter), p = h$p.value)
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, null = "null", na = "null"), "binary.json")
