# Risk prediction and its validation: reference values from survival 3.5.3, riskRegression
# 2022.11.28, rms 6.5.0, pec 2022.5.4, prodlim 2019.11.13, cmprsk 2.2-11, geepack (Debian packages).
# predictRisk on coxph / CSC (product-limit and exponential forms) / crr; concordance (Harrell, Uno n/G2,
# reverse = TRUE) with its standard error; royston(); Score(auc, brier, ipa; cens.model = "km") for survival
# and competing risks; pec::crps; calibration (O/E, slope on follow-up censored at the horizon, rms::cph rcs(cll, 3)
# + survest -> ICI/E50/E90/Emax);
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
write_json(ref, "prediction.json", digits = NA, auto_unbox = TRUE)

# ---- Score: AUC, Brier, IPA, contrasts (cens.model = "km") ----------------------------------------------
score_list <- function(sc) list(
  auc = list(model = as.character(sc$AUC$score$model), time = sc$AUC$score$times, estimate = sc$AUC$score$AUC,
             std_err = sc$AUC$score$se),
  brier = list(model = as.character(sc$Brier$score$model), time = sc$Brier$score$times,
               estimate = sc$Brier$score$Brier, std_err = sc$Brier$score$se, ipa = sc$Brier$score$IPA),
  auc_contrasts = list(model = as.character(sc$AUC$contrasts$model), reference = as.character(sc$AUC$contrasts$reference),
                       time = sc$AUC$contrasts$times, difference = sc$AUC$contrasts$delta.AUC,
                       std_err = sc$AUC$contrasts$se, p_value = sc$AUC$contrasts$p),
  brier_contrasts = list(model = as.character(sc$Brier$contrasts$model),
                         reference = as.character(sc$Brier$contrasts$reference), time = sc$Brier$contrasts$times,
                         difference = sc$Brier$contrasts$delta.Brier, std_err = sc$Brier$contrasts$se,
                         p_value = sc$Brier$contrasts$p))
cx2 <- coxph(Surv(t, relapse) ~ age + log(nodes + 1), data = rott, x = TRUE)
st_times <- c(1000, 2000, 4000)
sc <- Score(list(full = predictRisk(cx, rott, st_times), small = predictRisk(cx2, rott, st_times)),
            formula = Surv(t, relapse) ~ 1, data = rott, times = st_times, cens.model = "km",
            metrics = c("auc", "brier"), summary = "ipa")
ref$score_surv <- c(list(times = st_times), score_list(sc))
csc2 <- CSC(Hist(t, st) ~ age + log(nodes + 1), data = rott)
cr_times <- c(1000, 3000)
sc <- Score(list(full = predictRisk(csc, rott, cr_times, cause = 1), small = predictRisk(csc2, rott, cr_times, cause = 1)),
            formula = Hist(t, st) ~ 1, data = rott, times = cr_times, cause = 1, cens.model = "km",
            metrics = c("auc", "brier"), summary = "ipa")
ref$score_cr <- c(list(times = cr_times), score_list(sc))
sc <- Score(list(full = predictRisk(csc, rott, cr_times, cause = 2)), formula = Hist(t, st) ~ 1, data = rott,
            times = cr_times, cause = 2, cens.model = "km", metrics = c("auc", "brier"), summary = "ipa")
ref$score_cr2 <- c(list(times = cr_times), score_list(sc))
write_json(ref, "prediction.json", digits = NA, auto_unbox = TRUE)

# ---- calibration: O/E, slope, rms::cph(rcs(cll, 3)) + survest, ICI/E50/E90/Emax; pseudo-values + geese --
suppressPackageStartupMessages({ library(rms); library(geepack) })
h <- 2000
rott$p <- predictRisk(cx, rott, h)[, 1]
rott$cll <- log(-log(1 - rott$p))
km <- summary(survfit(Surv(t, relapse) ~ 1, data = rott), times = h)
obs <- 1 - km$surv; d <- sum(rott$relapse == 1 & rott$t <= h)
oe <- obs / mean(rott$p)
# the slope on follow-up administratively censored at the horizon: the predictions are risks by h, so events
# after h are not part of what they claim (bmstats' documented choice; the rcs curve keeps the full follow-up,
# as rms::cph + survest in Austin, Harrell & van Klaveren 2020)
rott$t_h <- pmin(rott$t, h); rott$relapse_h <- as.integer(rott$relapse == 1 & rott$t <= h)
slope <- coxph(Surv(t_h, relapse_h) ~ cll, data = rott)
dd <- datadist(rott); options(datadist = "dd")
# eps tightened: cph's default (1e-4) stops the fit early, moving survest by ~1e-5
cal <- cph(Surv(t, relapse) ~ rcs(cll, 3), data = rott, x = TRUE, y = TRUE, surv = TRUE, eps = 1e-12)
obs_i <- 1 - survest(cal, newdata = rott, times = h)$surv
diff <- abs(rott$p - obs_i)
grid <- seq(quantile(rott$p, .01), quantile(rott$p, .99), length.out = 100)
se <- survest(cal, newdata = data.frame(cll = log(-log(1 - grid))), times = h)
ref$cal_surv <- list(horizon = h, oe = c(oe, oe / sqrt(d), oe * exp(-qnorm(.975) / sqrt(d)), oe * exp(qnorm(.975) / sqrt(d))),
  slope = c(unname(coef(slope)), sqrt(slope$var[1, 1])), knots = unname(cal$Design$parms$cll),
  ici = mean(diff), e50 = median(diff), e90 = unname(quantile(diff, .9)), emax = max(diff),
  observed_head = head(obs_i, 20), curve_observed = 1 - se$surv, curve_lower = 1 - se$upper, curve_upper = 1 - se$lower)
# competing risks at 3000 days
h <- 3000
rott$q <- predictRisk(csc, rott, h, cause = 1)[, 1]
rott$cllq <- log(-log(1 - rott$q))
aj <- prodlim(Hist(t, st) ~ 1, data = rott)
objq <- predict(aj, times = h, cause = 1)
d <- sum(rott$st == 1 & rott$t <= h)
oe <- objq / mean(rott$q)
pv <- jackknife(aj, times = h, cause = 1)
rott$pv <- as.vector(pv)
g <- geese(pv ~ cllq, data = rott, id = seq_len(nrow(rott)), mean.link = "cloglog", scale.fix = TRUE,
           control = geese.control(epsilon = 1e-12, maxit = 100))
kn <- quantile(rott$cllq, c(.1, .5, .9))
B <- rcspline.eval(rott$cllq, knots = kn, inclx = TRUE, norm = 2)
fg <- crr(rott$t, rott$st, B, failcode = 1, cencode = 0)
pf <- predict(fg, B)
i <- findInterval(h, pf[, 1])
obs_i <- pf[i, -1]
diff <- abs(rott$q - obs_i)
ref$cal_cr <- list(horizon = h, oe = c(oe, oe / sqrt(d)), pseudo_head = head(rott$pv, 50),
  intercept = c(unname(g$beta[1]), sqrt(g$vbeta[1, 1])), slope = c(unname(g$beta[2]), sqrt(g$vbeta[2, 2])),
  knots = unname(kn), ici = mean(diff), e50 = median(diff), e90 = unname(quantile(diff, .9)), emax = max(diff))
write_json(ref, "prediction.json", digits = NA, auto_unbox = TRUE)

# ---- net benefit, the dcurves method (dcurves is not in Debian: its formula by hand) ------------------------
nb_ref <- function(time, status, p, h, th, cause = 1) {
  risk_of <- function(sel) {
    if (!any(sel)) return(NA)
    if (all(status[sel] %in% c(0, cause))) {
      s <- summary(survfit(Surv(time[sel], status[sel] == cause) ~ 1), times = h, extend = TRUE)$surv
      return(1 - s)
    }
    ci <- cuminc(time[sel], status[sel], cencode = 0)
    unname(timepoints(ci, h)$est[paste("1", cause), 1])
  }
  n <- length(time)
  sapply(th, function(pt) {
    sel <- p >= pt; k <- sum(sel)
    if (k == 0) return(0)
    f <- risk_of(sel); f * k / n - (1 - f) * k / n * pt / (1 - pt)
  })
}
th <- c(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9)
ref$nb_surv <- list(thresholds = th, model = nb_ref(rott$t, rott$relapse, rott$p, 2000, th),
                    all = nb_ref(rott$t, rott$relapse, rep(1, nrow(rott)), 2000, th))
ref$nb_cr <- list(thresholds = th, model = nb_ref(rott$t, rott$st, rott$q, 3000, th),
                  all = nb_ref(rott$t, rott$st, rep(1, nrow(rott)), 3000, th))
write_json(ref, "prediction.json", digits = NA, auto_unbox = TRUE)

# ---- integrated Brier score (pec::crps) and rms::validate's apparent indexes -----------------------------
suppressPackageStartupMessages(library(pec))
pe <- pec(list(full = cx), formula = Surv(t, relapse) ~ 1, data = rott, cens.model = "marginal", exact = TRUE,
          verbose = FALSE)
cr <- unclass(crps(pe, times = c(2000, 4000)))
ref$ibs <- list(stop = c(2000, 4000), null = unname(cr["Reference", ]), full = unname(cr["full", ]))
vf <- cph(as.formula(paste("Surv(t, relapse) ~", rhs)), data = rott, x = TRUE, y = TRUE, eps = 1e-12)
set.seed(1)
v <- validate(vf, B = 20)   # bootstrap columns are stochastic; only index.orig is compared
ref$validate_apparent <- unname(v[c("Dxy", "Slope"), "index.orig"])
write_json(ref, "prediction.json", digits = NA, auto_unbox = TRUE)
