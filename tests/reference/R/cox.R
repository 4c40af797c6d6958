# Cox regression reference values (survival 3.5.3): coxph Efron/Breslow, strata, cluster (robust),
# weights, start-stop (survSplit), cox.zph(transform = "km"), survfit baseline; Rotterdam, GBSG, bladder2.
# Writes tests/reference/cox.json and tests/reference/data/{rotterdam_split,bladder2}.csv.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })

rott <- read.csv("../../datasets/rotterdam.csv")
rott$size <- factor(rott$size, levels = c("<=20", "20-50", ">50"))
rott$t <- ifelse(rott$recur == 1, rott$rtime, rott$dtime)
rott$st <- ifelse(rott$recur == 1, 1, ifelse(rott$death == 1, 2, 0))
rott$relapse <- as.integer(rott$st == 1)
rott$death_norel <- as.integer(rott$st == 2)
rott$w <- 1 + (rott$pid %% 3) / 2            # case weights, derived the same way in Python
rott$grp <- rott$pid %% 50                    # an artificial grouping for the cluster() test
rott$tmonth <- ceiling(rott$t / 30.4375)      # heavy ties: follow-up in whole months

rhs <- "age + meno + size + grade + log(nodes + 1) + log(pgr + 1) + hormon + chemo"
times <- c(365, 1000, 2000, 3000, 5000)

summ <- function(fit, data, zph = TRUE, base_times = NULL) {
  s <- summary(fit)
  out <- list(
    coef = unname(coef(fit)), names = names(coef(fit)),
    se = unname(sqrt(diag(fit$var))),
    loglik = fit$loglik, n = fit$n, nevent = fit$nevent,
    score = unname(fit$score), wald = unname(fit$wald.test),
    concordance = unname(fit$concordance["concordance"]),
    means = unname(fit$means), iter = fit$iter
  )
  if (!is.null(fit$naive.var)) {
    out$robust_se <- unname(sqrt(diag(fit$var)))
    out$naive_se <- unname(sqrt(diag(fit$naive.var)))
  }
  if (zph) {
    z <- cox.zph(fit, transform = "km")
    out$zph <- list(rows = rownames(z$table), chisq = unname(z$table[, "chisq"]),
                    df = unname(z$table[, "df"]), p = unname(z$table[, "p"]),
                    x = head(unname(z$x), 40), y = head(unname(z$y), 40), time = head(unname(z$time), 40))
  }
  if (!is.null(base_times)) {
    sf <- survfit(fit)
    ss <- summary(sf, times = base_times, extend = TRUE)
    out$baseline <- list(time = ss$time, surv = ss$surv, cumhaz = ss$cumhaz,
                         strata = if (is.null(ss$strata)) NULL else as.character(ss$strata))
  }
  out
}
f <- function(lhs, r = rhs) as.formula(paste(lhs, "~", r))

ref <- list()
ref$rott_efron <- summ(coxph(f("Surv(t, relapse)"), data = rott, ties = "efron"), rott, base_times = times)
ref$rott_breslow <- summ(coxph(f("Surv(t, relapse)"), data = rott, ties = "breslow"), rott, base_times = times)
ref$rott_death_efron <- summ(coxph(f("Surv(t, death_norel)"), data = rott), rott)
rhs_s <- "age + meno + size + grade + log(nodes + 1) + log(pgr + 1) + chemo"
ref$rott_strata <- summ(coxph(f("Surv(t, relapse)", paste(rhs_s, "+ strata(hormon)")), data = rott), rott,
                        base_times = times)
ref$rott_strata_breslow <- summ(coxph(f("Surv(t, relapse)", paste(rhs_s, "+ strata(hormon)")), data = rott,
                                      ties = "breslow"), rott)
ref$rott_cluster_grp <- summ(coxph(f("Surv(t, relapse)"), data = rott, cluster = grp), rott, zph = FALSE)
ref$rott_robust_id <- summ(coxph(f("Surv(t, relapse)"), data = rott, robust = TRUE), rott, zph = FALSE)
ref$rott_weights <- summ(coxph(f("Surv(t, relapse)"), data = rott, weights = w), rott,
                         base_times = times)
ref$rott_weights_breslow_robust <- summ(coxph(f("Surv(t, relapse)"), data = rott, weights = w, ties = "breslow",
                                              cluster = grp), rott, zph = FALSE)
ref$rott_ties_efron <- summ(coxph(f("Surv(tmonth, relapse)"), data = rott), rott)
ref$rott_ties_breslow <- summ(coxph(f("Surv(tmonth, relapse)"), data = rott, ties = "breslow"), rott)
ref$rott_ties_weights_strata <- summ(coxph(f("Surv(tmonth, relapse)", paste(rhs_s, "+ strata(hormon)")),
                                           data = rott, weights = w), rott, zph = FALSE)

# start-stop: split the follow-up at 1, 2 and 5 years; a time-varying covariate hormon x (after 2 years)
sp <- survSplit(Surv(t, relapse) ~ ., data = rott[, c("pid", "age", "meno", "size", "grade", "nodes", "pgr",
                                                      "hormon", "chemo", "t", "relapse", "w", "grp")],
                cut = c(365, 730, 1825), episode = "episode", start = "tstart", end = "tstop")
sp$hormon_late <- sp$hormon * (sp$tstart >= 730)
write.csv(sp, "data/rotterdam_split.csv", row.names = FALSE)
ref$rott_split_same <- summ(coxph(f("Surv(tstart, tstop, relapse)"), data = sp), sp, zph = FALSE)
ref$rott_split_tv <- summ(coxph(f("Surv(tstart, tstop, relapse)", paste(rhs, "+ hormon_late")), data = sp,
                                cluster = pid), sp)
rhs_m <- "age + size + grade + log(nodes + 1) + log(pgr + 1) + hormon + chemo"
ref$rott_split_tv_breslow_w <- summ(coxph(f("Surv(tstart, tstop, relapse)", paste(rhs_m, "+ hormon_late + strata(meno)")),
                                          data = sp, cluster = pid, weights = w, ties = "breslow"), sp)

gbsg <- read.csv("../../datasets/gbsg.csv")
rhs_g <- "age + meno + size + grade + nodes + pgr + er + hormon"
ref$gbsg_efron <- summ(coxph(f("Surv(rfstime, status)", rhs_g), data = gbsg), gbsg, base_times = c(365, 1000, 2000))
ref$gbsg_breslow <- summ(coxph(f("Surv(rfstime, status)", rhs_g), data = gbsg, ties = "breslow"), gbsg)

data(cancer, package = "survival")
b2 <- bladder2
write.csv(b2, "data/bladder2.csv", row.names = FALSE)
ref$bladder_ag <- summ(coxph(Surv(start, stop, event) ~ rx + number + size + cluster(id), data = b2), b2)
ref$bladder_pwp_total <- summ(coxph(Surv(start, stop, event) ~ rx + number + size + strata(enum) + cluster(id),
                                    data = b2), b2)
b2$gap <- b2$stop - b2$start
ref$bladder_pwp_gap <- summ(coxph(Surv(gap, event) ~ rx + number + size + strata(enum) + cluster(id),
                                  data = b2), b2)

# predicted survival with confidence limits (survfit.coxph defaults: conf.type "log") for three patients
pred <- function(fit, newdata, times) {
  ss <- summary(survfit(fit, newdata = newdata), times = times, extend = TRUE)
  list(time = ss$time, surv = unname(ss$surv), lower = unname(ss$lower), upper = unname(ss$upper),
       std_err = unname(ss$std.err), cumhaz = unname(ss$cumhaz))
}
newrows <- c(1, 6, 100)
ref$pred_rott_efron <- pred(coxph(f("Surv(t, relapse)"), data = rott), rott[newrows, ], times)
ref$pred_rott_breslow <- pred(coxph(f("Surv(t, relapse)"), data = rott, ties = "breslow"), rott[newrows, ], times)
ref$pred_rott_weights <- pred(coxph(f("Surv(t, relapse)"), data = rott, weights = w), rott[newrows, ], times)
ref$pred_gbsg_efron <- pred(coxph(f("Surv(rfstime, status)", rhs_g), data = gbsg), gbsg[newrows, ], c(365, 1000, 2000))

write_json(ref, "cox.json", digits = NA, auto_unbox = TRUE)
cat("wrote cox.json\n")
