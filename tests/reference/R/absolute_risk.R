# Absolute risk from cause-specific Cox models with strata, and its confidence intervals: reference values from
# riskRegression 2022.11.28, survival 3.5.3, prodlim 2019.11.13 (Debian packages).
# predict(CSC(Hist(t, st) ~ ... + strata(size)), newdata, times, cause, se = TRUE): absolute risk (product limit),
# influence-function standard error and the default "loglog" limits; the same without strata (Efron and Breslow
# ties); predictRisk on a coxph with strata and survfit's limits of its survival.
# Writes tests/reference/absolute_risk.json.
suppressPackageStartupMessages({
  library(survival); library(riskRegression); library(prodlim); library(jsonlite)
})
rott <- read.csv("../../datasets/rotterdam.csv")
rott$size <- factor(rott$size, levels = c("<=20", "20-50", ">50"))
rott$t <- ifelse(rott$recur == 1, rott$rtime, rott$dtime)
rott$st <- ifelse(rott$recur == 1, 1, ifelse(rott$death == 1, 2, 0))
rott$relapse <- as.integer(rott$st == 1)
rhs <- "age + meno + grade + log(nodes + 1) + hormon"
times <- c(30, 365, 1000, 2000, 3000, 5000)
rows <- seq(1, nrow(rott), by = 150)
nd <- rott[rows, ]
f <- function(lhs, r = rhs) as.formula(paste(lhs, "~", r))
# every matrix is rows x times, written column by column (row index fastest)
csc_list <- function(fit, cause) {
  p <- predict(fit, newdata = nd, times = times, cause = cause, se = TRUE, product.limit = TRUE)
  list(risk = as.vector(p$absRisk), std_err = as.vector(p$absRisk.se), lower = as.vector(p$absRisk.lower),
       upper = as.vector(p$absRisk.upper))
}
ref <- list(times = times, newdata_rows = rows - 1, rhs = rhs,
            versions = list(riskRegression = as.character(packageVersion("riskRegression")),
                            survival = as.character(packageVersion("survival")),
                            prodlim = as.character(packageVersion("prodlim"))))
csc <- CSC(f("Hist(t, st)"), data = rott)                                  # Efron ties (CSC's default)
ref$csc_efron_1 <- csc_list(csc, 1)
ref$csc_efron_2 <- csc_list(csc, 2)
csc_b <- CSC(f("Hist(t, st)"), data = rott, method = "breslow")
ref$csc_breslow_1 <- csc_list(csc_b, 1)
csc_s <- CSC(f("Hist(t, st)", paste(rhs, "+ strata(size)")), data = rott)
ref$csc_strata_1 <- csc_list(csc_s, 1)
ref$csc_strata_2 <- csc_list(csc_s, 2)
ref$csc_strata_1_exp <- as.vector(predictRisk(csc_s, newdata = nd, times = times, cause = 1, product.limit = FALSE))
csc_s2 <- CSC(f("Hist(t, st)", paste(rhs, "+ strata(size, chemo)")), data = rott)
ref$csc_strata2_1 <- csc_list(csc_s2, 1)
# Cox with strata: predictRisk (1 - S) and survfit's log-scale limits of the survival
cx <- coxph(f("Surv(t, relapse)", paste(rhs, "+ strata(size)")), data = rott, x = TRUE, y = TRUE)
ref$cox_strata_risk <- as.vector(predictRisk(cx, newdata = nd, times = times))
ss <- summary(survfit(cx, newdata = nd), times = times, extend = TRUE)
# summary.survfit on several curves returns them curve by curve: reorder to rows x times
ref$cox_strata_lower <- as.vector(t(matrix(1 - ss$upper, nrow = length(times))))
ref$cox_strata_upper <- as.vector(t(matrix(1 - ss$lower, nrow = length(times))))
ref$cox_strata_std_err <- as.vector(t(matrix(ss$std.err, nrow = length(times))))
cx0 <- coxph(f("Surv(t, relapse)"), data = rott, x = TRUE, y = TRUE)
s0 <- summary(survfit(cx0, newdata = nd), times = times, extend = TRUE)
ref$cox_risk <- as.vector(predictRisk(cx0, newdata = nd, times = times))
ref$cox_std_err <- as.vector(t(matrix(s0$std.err, nrow = length(times))))
write_json(ref, "absolute_risk.json", digits = NA, auto_unbox = TRUE)
