# Reference values for the nonparametric family (Kaplan-Meier, log-rank, Aalen-Johansen / cuminc,
# Gray's test, exact Poisson rates).  Run from tests/reference/:  Rscript make_reference.R nonparametric
# Writes nonparametric.json and the simulated tied data set data/ties.csv.
suppressPackageStartupMessages({library(survival); library(cmprsk); library(jsonlite)})

## data ------------------------------------------------------------------------------------------
rott <- read.csv("../../datasets/rotterdam.csv")
rott$cr_time <- ifelse(rott$recur == 1, rott$rtime, rott$dtime)
rott$cr_status <- ifelse(rott$recur == 1, 1L, ifelse(rott$death == 1, 2L, 0L))
rott$nodegrp <- ifelse(rott$nodes == 0, "0", ifelse(rott$nodes <= 3, "1-3", "4+"))
rott$nodegrp <- factor(rott$nodegrp, levels = c("0", "1-3", "4+"))
gbsg <- read.csv("../../datasets/gbsg.csv")

# heavy ties: integer times on a coarse grid; ties within a cause, between causes and with censoring;
# a group, a stratum and a delayed entry time (entry < time)
set.seed(20261126)
n <- 600
ties <- data.frame(
  id = seq_len(n),
  group = sample(c("A", "B", "C"), n, replace = TRUE, prob = c(0.4, 0.35, 0.25)),
  stratum = sample(c("s1", "s2"), n, replace = TRUE)
)
base <- c(A = 1, B = 1.4, C = 0.8)[ties$group]
ties$time <- pmin(ceiling(rexp(n, 0.08 * base) * 2) / 2, 30)   # half-unit grid, capped at 30
ties$time[ties$time == 0] <- 0.5
ties$status <- sample(0:2, n, replace = TRUE, prob = c(0.3, 0.45, 0.25))
ties$status[ties$time == 30] <- 0L
ties$entry <- ifelse(runif(n) < 0.3, floor(runif(n) * ties$time * 2) / 2, 0)   # on the same grid
ties$entry[ties$entry >= ties$time] <- 0
dir.create("data", showWarnings = FALSE)
write.csv(ties, "data/ties.csv", row.names = FALSE)
ties$event <- as.integer(ties$status > 0)

## helpers ---------------------------------------------------------------------------------------
group_of <- function(fit) {
  if (is.null(fit$strata)) return(rep("all", length(fit$time)))
  g <- rep(names(fit$strata), fit$strata)
  sub(".*=", "", g)
}
km_ref <- function(formula, data, taus, at) {
  out <- list()
  for (ct in c("plain", "log", "log-log")) {
    fit <- survfit(formula, data = data, conf.type = ct)
    # the curve is the same for every conf.type: store it once, with each type's limits
    if (is.null(out$table)) out$table <- list(
      group = group_of(fit), time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
      n_censor = fit$n.censor, surv = fit$surv, std_err_cumhaz = fit$std.err)
    out$table[[paste0("lower_", ct)]] <- fit$lower
    out$table[[paste0("upper_", ct)]] <- fit$upper
    q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
    if (is.null(dim(q$quantile))) q <- lapply(q, function(v) matrix(v, nrow = 1))
    grp <- if (is.null(fit$strata)) "all" else sub(".*=", "", names(fit$strata))
    out$quantile[[ct]] <- list(group = grp, q25 = unname(q$quantile[, 1]), q50 = unname(q$quantile[, 2]),
      q75 = unname(q$quantile[, 3]), lower25 = unname(q$lower[, 1]), lower50 = unname(q$lower[, 2]),
      lower75 = unname(q$lower[, 3]), upper25 = unname(q$upper[, 1]), upper50 = unname(q$upper[, 2]),
      upper75 = unname(q$upper[, 3]))
  }
  fit <- survfit(formula, data = data)
  s <- summary(fit, times = at, extend = TRUE)
  out$at <- list(group = if (is.null(s$strata)) rep("all", length(s$time)) else sub(".*=", "", as.character(s$strata)),
    time = s$time, n_risk = s$n.risk, n_event = s$n.event, surv = s$surv, std_err = s$std.err,
    lower = s$lower, upper = s$upper)
  out$rmst <- lapply(taus, function(tau) {
    tb <- summary(fit, rmean = tau)$table
    if (is.null(dim(tb))) tb <- t(tb)
    list(tau = tau, rmean = unname(tb[, "rmean"]), se = unname(tb[, "se(rmean)"]))
  })
  out
}
survdiff_ref <- function(formula, data, rho = 0) {
  d <- survdiff(formula, data = data, rho = rho)
  list(rho = rho, chisq = d$chisq, df = length(d$n) - 1, p = pchisq(d$chisq, length(d$n) - 1, lower.tail = FALSE),
       group = sub(".*=", "", names(d$n)), obs = if (is.matrix(d$obs)) rowSums(d$obs) else d$obs,
       exp = if (is.matrix(d$exp)) rowSums(d$exp) else d$exp, var = d$var)
}
cuminc_ref <- function(time, status, group, strata = NULL, rho = 0, curves = TRUE) {
  fit <- if (is.null(strata)) cuminc(time, status, group, rho = rho) else cuminc(time, status, group, strata = strata, rho = rho)
  tests <- fit$Tests
  fit$Tests <- NULL
  want_curves <- curves
  ut <- sort(unique(time))
  tp <- timepoints(fit, ut)
  curves <- lapply(rownames(tp$est), function(nm) {
    parts <- strsplit(nm, " ")[[1]]
    list(group = paste(parts[-length(parts)], collapse = " "), cause = as.integer(parts[length(parts)]),
         time = ut, estimate = unname(tp$est[nm, ]), variance = unname(tp$var[nm, ]))
  })
  list(rho = rho, curves = if (want_curves) curves else list(),
       tests = list(cause = as.integer(rownames(tests)), statistic = unname(tests[, "stat"]),
                    p_value = unname(tests[, "pv"]), df = unname(tests[, "df"])))
}

## reference values ------------------------------------------------------------------------------
ref <- list()
ref$rotterdam_os <- km_ref(Surv(dtime, death) ~ nodegrp, rott, taus = c(1826.25, 3652.5, 5000),
                           at = c(365.25, 1826.25, 3652.5, 5000, 7000))
ref$rotterdam_relapse_km <- km_ref(Surv(cr_time, cr_status == 1) ~ nodegrp, rott, taus = 3652.5,
                                   at = c(365.25, 1826.25, 3652.5))
ref$gbsg_rfs <- km_ref(Surv(rfstime, status) ~ hormon, gbsg, taus = c(1000, 2000), at = c(365, 730, 1825))
ref$gbsg_rfs_pooled <- km_ref(Surv(rfstime, status) ~ 1, gbsg, taus = 2000, at = c(365, 730, 1825))
ref$ties_km <- km_ref(Surv(time, event) ~ group, ties, taus = c(10, 20, 30), at = c(0.25, 5, 10.2, 20, 29.5, 40))
ref$ties_km_entry <- km_ref(Surv(entry, time, event) ~ group, ties, taus = c(10, 25), at = c(0.25, 5, 10.2, 20, 40))

ref$logrank <- list(
  rotterdam_os = survdiff_ref(Surv(dtime, death) ~ nodegrp, rott),
  rotterdam_os_rho1 = survdiff_ref(Surv(dtime, death) ~ nodegrp, rott, rho = 1),
  rotterdam_os_strat = survdiff_ref(Surv(dtime, death) ~ nodegrp + strata(meno), rott),
  gbsg_rfs = survdiff_ref(Surv(rfstime, status) ~ hormon, gbsg),
  gbsg_rfs_grade = survdiff_ref(Surv(rfstime, status) ~ grade, gbsg),
  gbsg_rfs_strat = survdiff_ref(Surv(rfstime, status) ~ hormon + strata(meno), gbsg, rho = 0.5),
  ties = survdiff_ref(Surv(time, event) ~ group, ties),
  ties_rho1 = survdiff_ref(Surv(time, event) ~ group, ties, rho = 1),
  ties_strat = survdiff_ref(Surv(time, event) ~ group + strata(stratum), ties)
)

ref$cuminc <- list(
  rotterdam = cuminc_ref(rott$cr_time, rott$cr_status, as.character(rott$nodegrp)),
  rotterdam_strat_rho1 = cuminc_ref(rott$cr_time, rott$cr_status, as.character(rott$nodegrp), strata = rott$meno, rho = 1,
                                     curves = FALSE),
  ties = cuminc_ref(ties$time, ties$status, ties$group),
  ties_strat = cuminc_ref(ties$time, ties$status, ties$group, strata = ties$stratum, curves = FALSE),
  ties_rho = cuminc_ref(ties$time, ties$status, ties$group, rho = -0.5, curves = FALSE)
)

rate_ref <- function(x, pt) {
  t <- poisson.test(x, pt)
  list(events = x, person_time = pt, rate = unname(t$estimate), lower = t$conf.int[1], upper = t$conf.int[2])
}
ratio_ref <- function(x, pt) {
  t <- poisson.test(x, pt)
  list(events = x, person_time = pt, ratio = unname(t$estimate), lower = t$conf.int[1], upper = t$conf.int[2],
       p_value = t$p.value)
}
agg <- aggregate(cbind(recur, rtime) ~ nodegrp, rott, sum)
ref$rates <- list(
  rotterdam_recur = lapply(seq_len(nrow(agg)), function(i) c(list(group = as.character(agg$nodegrp[i])),
                                                                rate_ref(agg$recur[i], agg$rtime[i]))),
  zero_events = rate_ref(0, 1234.5),
  ratio_1_3_vs_0 = ratio_ref(agg$recur[c(2, 1)], agg$rtime[c(2, 1)]),
  ratio_4_vs_0 = ratio_ref(agg$recur[c(3, 1)], agg$rtime[c(3, 1)])
)

ref$versions <- list(R = R.version.string, survival = as.character(packageVersion("survival")),
                     cmprsk = as.character(packageVersion("cmprsk")))
write_json(ref, "nonparametric.json", digits = NA, auto_unbox = TRUE)
