# Risk prediction and its validation: reference values from survival 3.5.3, riskRegression
# 2022.11.28, rms 6.5.0, pec 2022.5.4, prodlim 2019.11.13, cmprsk 2.2-11 (Debian packages).
# predictRisk on coxph / CSC (product-limit and exponential forms) / crr; concordance (Harrell, Uno n/G2,
# reverse = TRUE) with its standard error; royston(); Score(auc, brier, ipa; cens.model = "km") for survival
# and competing risks; pec::crps; calibration (O/E, slope, rms::cph rcs(cll, 3) + survest -> ICI/E50/E90/Emax);
# net benefit (dcurves method); rms::validate of a cph fit (bootstrap, seeded: stochastic, so only the
# apparent column is compared exactly).
# Writes tests/reference/prediction.json.
suppressPackageStartupMessages({
  library(survival); library(riskRegression); library(prodlim); library(cmprsk); library(jsonlite)
})
rott <- read.csv("../../datasets/rotterdam.csv")
rott$size <- factor(rott$size, levels = c("<=20", "20-50", ">50"))
rott$t <- ifelse(rott$recur == 1, rott$rtime, rott$dtime)
rott$st <- ifelse(rott$recur == 1, 1, ifelse(rott$death == 1, 2, 0))
rott$relapse <- as.integer(rott$st == 1)
rott$rfs <- as.integer(rott$st > 0)
rhs <- "age + meno + size + grade + log(nodes + 1) + log(pgr + 1) + hormon + chemo"
times <- c(365, 1000, 2000, 3000, 5000)
f <- function(lhs, r = rhs) as.formula(paste(lhs, "~", r))
nd <- rott[seq(1, nrow(rott), by = 100), ]   # every 100th row as new data
ref <- list(times = times, newdata_rows = seq(1, nrow(rott), by = 100) - 1)

# ---- predict_risk --------------------------------------------------------------------------------------
cx <- coxph(f("Surv(t, relapse)"), data = rott, x = TRUE)
# every matrix is rows x times, written column by column (row index fastest)
ref$risk_cox <- as.vector(predictRisk(cx, newdata = nd, times = times))
sf <- survfit(cx, newdata = nd)
ss <- summary(sf, times = times, extend = TRUE)
ref$risk_cox_lower <- as.vector(t(1 - ss$upper)); ref$risk_cox_upper <- as.vector(t(1 - ss$lower))
csc <- CSC(f("Hist(t, st)"), data = rott)
ref$risk_csc1 <- as.vector(predictRisk(csc, newdata = nd, times = times, cause = 1))
ref$risk_csc2 <- as.vector(predictRisk(csc, newdata = nd, times = times, cause = 2))
ref$risk_csc1_exp <- as.vector(predictRisk(csc, newdata = nd, times = times, cause = 1, product.limit = FALSE))
X <- model.matrix(as.formula(paste("~", rhs)), rott)[, -1]
Xn <- model.matrix(as.formula(paste("~", rhs)), nd)[, -1]
fg <- crr(rott$t, rott$st, X, failcode = 1, cencode = 0)
pf <- predict(fg, Xn)
idx <- findInterval(times, pf[, 1])
ref$risk_fg <- as.vector(sapply(idx, function(i) if (i == 0) rep(0, nrow(Xn)) else pf[i, -1]))  # rows x times

# published model: coefficients of cx, its baseline cumulative hazard at 0-covariates, evaluated by hand
bh <- basehaz(cx, centered = FALSE)
ref$published_H0 <- approx(bh$time, bh$hazard, xout = times, method = "constant", rule = 2, f = 0)$y
ref$published_coef <- unname(coef(cx))

# ---- concordance and Royston's D -----------------------------------------------------------------------
rott$lp <- predict(cx, type = "lp")
rott$rlp <- round(rott$lp, 1)                                    # tied predictions
h <- concordance(Surv(t, relapse) ~ lp, data = rott, reverse = TRUE)
ref$c_harrell <- c(h$concordance, sqrt(h$var))
h <- concordance(Surv(t, relapse) ~ rlp, data = rott, reverse = TRUE)
ref$c_harrell_ties <- c(h$concordance, sqrt(h$var))
h <- concordance(Surv(t, relapse) ~ lp, data = rott, reverse = TRUE, timewt = "n/G2")
ref$c_uno <- c(h$concordance, sqrt(h$var))
h <- concordance(Surv(t, relapse) ~ lp, data = rott, reverse = TRUE, ymax = 3000)
ref$c_harrell_tau <- c(h$concordance, sqrt(h$var))
h <- concordance(Surv(t, relapse) ~ lp, data = rott, reverse = TRUE, timewt = "n/G2", ymax = 3000)
ref$c_uno_tau <- c(h$concordance, sqrt(h$var))
# Wolbers et al. (2009) competing-risk C without censoring weights, by brute force over pairs:
# i comparable to j when i had cause 1 at T_i and (T_j > T_i, or j censored at T_i, or j had a competing event)
r5 <- predictRisk(csc, newdata = rott, times = 2000, cause = 1)[, 1]
wol <- function(tt, ss, r) {
  num <- 0; den <- 0
  for (i in which(ss == 1)) {
    j <- (tt > tt[i]) | (ss == 0 & tt == tt[i]) | (ss > 1)
    j[i] <- FALSE
    num <- num + sum(r[i] > r[j]) + 0.5 * sum(r[i] == r[j]); den <- den + sum(j)
  }
  num / den
}
ref$c_wolbers <- wol(rott$t, rott$st, r5)
ref$risk_csc1_2000_all <- r5
# the same C and its standard error from survival::concordance, competing events censored after every time
rott$t_w <- ifelse(rott$st > 1, max(rott$t) + 1, rott$t)
rott$r5 <- r5
h <- concordance(Surv(t_w, st == 1) ~ r5, data = rott, reverse = TRUE)
ref$c_wolbers_survival <- c(h$concordance, sqrt(h$var))
dr <- royston(cx)
ref$royston <- unname(dr)
ref$royston_names <- names(dr)
saveRDS(list(cx = cx, csc = csc), "/tmp/pr/fits.rds")
write_json(ref, "prediction.json", digits = NA, auto_unbox = TRUE)
