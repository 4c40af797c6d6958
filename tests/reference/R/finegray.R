# Fine-Gray subdistribution hazards reference values (cmprsk 2.2-11 crr / predict.crr) -> finegray.json
# Run from tests/reference/:  Rscript make_reference.R finegray
# Also writes data/fg_ties.csv: a seeded, heavily tied competing-risks data set (the tests read the same rows).
suppressPackageStartupMessages({ library(cmprsk); library(jsonlite) })

rott <- read.csv("../../datasets/rotterdam.csv")
rott$size <- factor(rott$size, levels = c("<=20", "20-50", ">50"))
rott$time <- ifelse(rott$recur == 1, rott$rtime, rott$dtime)
rott$status <- ifelse(rott$recur == 1, 1L, ifelse(rott$death == 1, 2L, 0L))
rott_X <- model.matrix(~ age + meno + size + grade + log(nodes + 1) + log(pgr + 1) + hormon + chemo, rott)[, -1]

# Heavily tied data: 600 patients, integer follow-up years 1..8, three-level group, a binary and a continuous
# covariate; censoring depends on the binary covariate `clinic` (used as cengroup).
set.seed(20261126)
n <- 600
ties <- data.frame(x1 = round(rnorm(n), 2), x2 = rbinom(n, 1, 0.4),
                   grp = sample(c("a", "b", "c"), n, replace = TRUE), clinic = rbinom(n, 1, 0.5))
lp1 <- 0.5 * ties$x1 + 0.6 * ties$x2 + ifelse(ties$grp == "b", -0.4, ifelse(ties$grp == "c", 0.3, 0))
lp2 <- -0.3 * ties$x1 + 0.2 * ties$x2
t1 <- rexp(n, 0.08 * exp(lp1)); t2 <- rexp(n, 0.06 * exp(lp2))
cc <- runif(n, 0, ifelse(ties$clinic == 1, 9, 14))
tt <- pmin(t1, t2, cc)
ties$time <- pmin(ceiling(tt), 8)
ties$status <- ifelse(tt == t1, 1L, ifelse(tt == t2, 2L, 0L))
ties$status[ceiling(tt) > 8] <- 0L
write.csv(ties, "data/fg_ties.csv", row.names = FALSE)
ties$grp <- factor(ties$grp)
ties_X <- model.matrix(~ x1 + x2 + grp, ties)[, -1]

pick <- function(X, rows) X[rows, , drop = FALSE]
fit_one <- function(time, status, X, cause, gtol, cengroup = NULL, newrows) {
  args <- list(ftime = time, fstatus = status, cov1 = X, failcode = cause, cencode = 0, gtol = gtol, maxiter = 100)
  if (!is.null(cengroup)) args$cengroup <- cengroup
  fit <- do.call(crr, args)
  newX <- pick(X, newrows)
  pr <- predict(fit, cov1 = newX)
  list(cause = cause, gtol = gtol, cengroup = !is.null(cengroup), converged = fit$converged,
       columns = colnames(X), coef = unname(fit$coef), se = unname(sqrt(diag(fit$var))),
       var = unname(fit$var), inf = unname(fit$inf), score = unname(fit$score),
       loglik = fit$loglik, loglik_null = fit$loglik.null, n = fit$n,
       uftime = fit$uftime, cumhaz = cumsum(fit$bfitj),
       predict_rows = newrows - 1L,  # 0-based row positions into the data
       predict = unname(pr[, -1, drop = FALSE]))
}

out <- list(cmprsk_version = as.character(packageVersion("cmprsk")), fits = list())
for (cause in 1:2) for (gtol in c(1e-6, 1e-12)) {
  out$fits[[sprintf("rotterdam_c%d_%s", cause, format(gtol))]] <-
    fit_one(rott$time, rott$status, rott_X, cause, gtol, newrows = c(1, 2, 500, 2000))
  out$fits[[sprintf("ties_c%d_%s", cause, format(gtol))]] <-
    fit_one(ties$time, ties$status, ties_X, cause, gtol, newrows = c(1, 7, 300))
}
for (cause in 1:2) {
  out$fits[[sprintf("rotterdam_c%d_cengroup", cause)]] <-
    fit_one(rott$time, rott$status, rott_X, cause, 1e-12, cengroup = rott$hormon, newrows = c(1, 2, 500))
  out$fits[[sprintf("ties_c%d_cengroup", cause)]] <-
    fit_one(ties$time, ties$status, ties_X, cause, 1e-12, cengroup = ties$clinic, newrows = c(1, 7, 300))
}

# Small hand-made cengroup case: clinic B's follow-up ends (on a competing event at 6) before the last events of
# interest (8, 11); crr then gives B's competing subjects weight 0 in those later risk sets.
short <- data.frame(time = c(1, 11, 3, 1, 6, 6, 3, 4, 8, 6, 6, 5, 6, 4, 2, 1, 5, 4, 3, 2),
                    status = c(2, 1, 0, 1, 1, 2, 0, 1, 1, 2, 2, 1, 2, 0, 0, 0, 1, 0, 0, 1),
                    clinic = rep(c("A", "B"), c(12, 8)),
                    x1 = c(0, 0.2, -0.2, -1.2, 0.1, -0.2, 0, -1.2, -0.3, -0.6, -0.6, -2.1, -1, -0.2, 0.3, -0.2, 1.3, 1, -0.5, -0.1),
                    x2 = c(1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0))
fs <- crr(short$time, short$status, as.matrix(short[, c("x1", "x2")]), cengroup = short$clinic,
          failcode = 1, cencode = 0, gtol = 1e-10, maxiter = 100)  # (1e-12: crr stops short at a 2e-11 score)
out$short_followup <- list(data = short, converged = fs$converged, coef = unname(fs$coef),
                           se = unname(sqrt(diag(fs$var))), var = unname(fs$var), loglik = fs$loglik,
                           uftime = fs$uftime, cumhaz = cumsum(fs$bfitj))

# Confidence limits of predicted cumulative incidence (crr gives none): mets::cifreg (Fine-Gray, propodds = NULL)
# with FGprediid (iid decomposition of baseline and beta, se of log F).  mets handles tied times differently
# from crr, so this uses Rotterdam with ties broken deterministically: time + pid * 1e-5 days.
suppressPackageStartupMessages(library(mets))
rj <- rott
rj$time <- rj$time + rj$pid * 1e-5
rj$lnodes <- log(rj$nodes + 1); rj$lpgr <- log(rj$pgr + 1)
out$mets <- list(mets_version = as.character(packageVersion("mets")), jitter = 1e-5, fits = list())
for (cause in 1) {  # cause 2: FGprediid gives NaN standard errors in mets 1.3.2
  fg <- cifreg(Event(time, status) ~ age + meno + size + grade + lnodes + lpgr + hormon + chemo, data = rj,
               cause = cause, propodds = NULL, cox.prep = TRUE)
  rows <- c(1, 2, 500, 2000)
  preds <- lapply(c(1000, 2000, 4000), function(tt) {
    p <- FGprediid(IIDbaseline.cifreg(fg, time = tt), rj[rows, ])
    list(time = tt, pred = unname(p[, 1]), se_log = unname(p[, 2]), lower = unname(p[, 3]), upper = unname(p[, 4]))
  })
  out$mets$fits[[sprintf("c%d", cause)]] <- list(cause = cause, coef = unname(coef(fg)), se = unname(sqrt(diag(fg$var))),
                                                rows = rows - 1L, predictions = preds)
}
write_json(out, "finegray.json", digits = NA, auto_unbox = TRUE)
