# Reference values for recurrent skeletal events: mean cumulative functions (mets, survival),
# rate regression (MASS::glm.nb, glm poisson) and SRE summaries.
# Run from tests/reference/:  Rscript make_reference.R recurrent
# Writes data/recurrent.csv (simulated, seeded) and recurrent.json.
suppressPackageStartupMessages({
  library(survival); library(mets); library(MASS); library(jsonlite); library(cmprsk)
})

## ---- data: seeded recurrent events with death, two groups, frailty --------------------------------
# Exact (continuous) times in start_exact/stop_exact: no ties, as mets::recurrentMarginal requires.
# The same intervals rounded up to whole days in start/stop: ties between subjects (what real data look
# like). Events on the day a subject leaves (dies or is censored) are dropped so that both versions have
# exactly the same rows.
set.seed(20261126)
n <- 400
grp <- rep(c("A", "B"), each = n / 2)
x <- round(rnorm(n), 3)
z <- rgamma(n, shape = 2, rate = 2)
rate <- 0.003 * exp(0.4 * (grp == "B") + 0.2 * x) * z
drate <- 0.0008 * exp(0.3 * (grp == "B")) * sqrt(z)
death <- rexp(n, drate)
cens <- runif(n, 200, 1500)
end <- pmin(death, cens); dead <- as.integer(death <= cens)
types <- c("pathologic_fracture", "spinal_cord_compression", "radiation_to_bone", "surgery_to_bone",
           "hypercalcaemia")
rows <- vector("list", n)
for (i in 1:n) {
  t <- 0; ev <- numeric(0)
  repeat { t <- t + rexp(1, rate[i]); if (t > end[i]) break; ev <- c(ev, t) }
  day <- ceiling(ev)
  keep <- !duplicated(day) & day < ceiling(end[i])
  ev <- ev[keep]; day <- day[keep]
  k <- length(ev)
  term <- c(rep(0, k), dead[i])
  et <- c(sample(types, k, replace = TRUE, prob = c(.3, .1, .4, .1, .1)), "")
  rows[[i]] <- data.frame(id = i, group = grp[i], x = x[i],
                          start = c(0, day), stop = c(day, ceiling(end[i])),
                          event = c(rep(1, k), 0), terminal = term, event_type = et,
                          start_exact = c(0, ev), stop_exact = c(ev, end[i]))
}
d <- do.call(rbind, rows)
write.csv(d, "data/recurrent.csv", row.names = FALSE)

out <- list(n_rows = nrow(d), n_events = sum(d$event), n_deaths = sum(d$terminal))

## ---- Ghosh-Lin marginal mean: mets::recurrentMarginal on the exact (untied) times ------------------
gl <- function(data) {
  xr <- phreg(Surv(start_exact, stop_exact, event) ~ cluster(id), data = data)
  dr <- phreg(Surv(start_exact, stop_exact, terminal) ~ cluster(id), data = data)
  m <- recurrentMarginal(xr, dr)
  list(time = m$times, estimate = m$mu, std_err = m$se.mu)
}
out$ghosh_lin_exact <- gl(d)
out$ghosh_lin_exact_by <- list(A = gl(d[d$group == "A", ]), B = gl(d[d$group == "B", ]))
# summary at fixed times (mets' own summary; its confidence limits are on the log scale)
xr <- phreg(Surv(start_exact, stop_exact, event) ~ cluster(id), data = d)
dr <- phreg(Surv(start_exact, stop_exact, terminal) ~ cluster(id), data = d)
m <- recurrentMarginal(xr, dr)
s <- summary(m, times = c(100, 365, 730, 1000))
out$ghosh_lin_exact_summary <- list(time = s$times, estimate = s$mean, std_err = s[["se-mean"]],
                                    lower = s[["CI-2.5%"]], upper = s[["CI-97.5%"]])

## ---- naive Nelson-Aalen MCF with robust (Lawless-Nadeau) variance --------------------------------
# mets: robust.phreg baseline on exact times; survival: survfit with id (infinitesimal jackknife) on days
rx <- robust.phreg(xr, fixbeta = 1)
out$nelson_aalen_exact <- list(time = rx$cumhaz[, 1], estimate = rx$cumhaz[, 2],
                               std_err = rx$robse.cumhaz[, 2])
sf <- survfit(Surv(start, stop, event) ~ group, id = id, data = d, robust = TRUE)
grp_of <- rep(sub("group=", "", names(sf$strata)), sf$strata)
keep <- sf$n.event > 0
out$nelson_aalen_days_by <- list(group = grp_of[keep], time = sf$time[keep], n_risk = sf$n.risk[keep],
                                 n_event = sf$n.event[keep], estimate = sf$cumhaz[keep],
                                 std_err = sf$std.chaz[keep])

## ---- Ghosh-Lin estimate on the tied (day) times, from survival's KM and Nelson-Aalen --------------
# mu(t) = sum_{s <= t} S(s-) dR(s): S = Kaplan-Meier of death, dR = events / number at risk.
gl_days <- function(data) {
  km <- survfit(Surv(start, stop, terminal) ~ 1, id = id, data = data)
  na <- survfit(Surv(start, stop, event) ~ 1, id = id, data = data)
  tt <- na$time[na$n.event > 0]
  dR <- (na$n.event / na$n.risk)[na$n.event > 0]
  Sminus <- summary(km, times = tt - 1e-9, extend = TRUE)$surv  # times are whole days
  list(time = tt, estimate = cumsum(Sminus * dR), n_risk = na$n.risk[na$n.event > 0])
}
out$ghosh_lin_days_by <- list(A = gl_days(d[d$group == "A", ]), B = gl_days(d[d$group == "B", ]))

## ---- rate regression on per-patient counts -----------------------------------------------------
pp <- aggregate(cbind(events = event, days = stop - start) ~ id + group + x, data = d, FUN = sum)
pp <- pp[order(pp$id), ]
pp$person_years <- pp$days / 365.25
write.csv(pp[, c("id", "group", "x", "events", "person_years")], "data/recurrent_counts.csv", row.names = FALSE)
coefs <- function(f) {
  cf <- summary(f)$coefficients
  list(term = rownames(cf), coef = unname(cf[, 1]), se = unname(cf[, 2]), z = unname(cf[, 3]),
       p = unname(cf[, 4]))
}
fp <- glm(events ~ group + x + offset(log(person_years)), family = poisson, data = pp)
out$poisson <- c(coefs(fp), list(deviance = deviance(fp), aic = AIC(fp), loglik = as.numeric(logLik(fp)),
                                 ci_lower = unname(confint.default(fp)[, 1]),
                                 ci_upper = unname(confint.default(fp)[, 2])))
fn <- glm.nb(events ~ group + x + offset(log(person_years)), data = pp)
out$negative_binomial <- c(coefs(fn), list(theta = fn$theta, se_theta = fn$SE.theta,
                                           deviance = deviance(fn), aic = AIC(fn),
                                           loglik = as.numeric(logLik(fn)), twologlik = fn$twologlik,
                                           ci_lower = unname(confint.default(fn)[, 1]),
                                           ci_upper = unname(confint.default(fn)[, 2])))

## ---- SRE summaries --------------------------------------------------------------------------------
first <- do.call(rbind, lapply(split(d, d$id), function(s) {
  e <- s[s$event == 1, ]
  end <- max(s$stop)
  if (nrow(e)) data.frame(id = s$id[1], group = s$group[1], time = min(e$stop), status = 1)
  else data.frame(id = s$id[1], group = s$group[1], time = end, status = ifelse(any(s$terminal == 1), 2, 0))
}))
ci <- cuminc(first$time, first$status, first$group)
tp <- timepoints(ci, times = c(180, 365, 730))
out$first_event_cif <- list(rows = rownames(tp$est), times = c(180, 365, 730),
                            est = unname(tp$est), var = unname(tp$var))
anyev <- tapply(first$status == 1, first$group, sum); ntot <- tapply(first$status, first$group, length)
out$proportion_any <- lapply(names(anyev), function(g) {
  b <- binom.test(anyev[[g]], ntot[[g]])
  list(group = g, n = ntot[[g]], n_with_event = anyev[[g]], proportion = unname(b$estimate),
       lower = b$conf.int[1], upper = b$conf.int[2])
})
# skeletal morbidity rate: events per person-year, an event within 21 days of the last counted event
# is not counted again (independent loop implementation)
count21 <- function(t) { n <- 0; last <- -Inf; for (u in sort(t)) if (u - last >= 21) { n <- n + 1; last <- u }; n }
smr <- do.call(rbind, lapply(split(d, d$id), function(s) {
  data.frame(id = s$id[1], group = s$group[1], events = sum(s$event), counted = count21(s$stop[s$event == 1]),
             years = max(s$stop) / 365.25)
}))
out$smr <- lapply(split(smr, smr$group), function(s) {
  list(group = s$group[1], events = sum(s$events), counted = sum(s$counted), person_years = sum(s$years),
       rate = sum(s$counted) / sum(s$years),
       lower = qchisq(0.025, 2 * sum(s$counted)) / 2 / sum(s$years),
       upper = qchisq(0.975, 2 * (sum(s$counted) + 1)) / 2 / sum(s$years),
       mean_patient_rate = mean(s$counted / s$years))
})
out$smr_patient <- list(id = smr$id, counted = smr$counted)
# skeletal morbidity period rate: 84-day periods (k*84, (k+1)*84] with >= 1 event / time on study in periods
smpr <- do.call(rbind, lapply(split(d, d$id), function(s) {
  data.frame(group = s$group[1], with = length(unique(ceiling(s$stop[s$event == 1] / 84))),
             on = sum(s$stop - s$start) / 84)
}))
out$smpr <- lapply(split(smpr, smpr$group), function(s) {
  list(group = s$group[1], periods_with_event = sum(s$with), periods_on_study = sum(s$on),
       rate = sum(s$with) / sum(s$on), mean_patient_rate = mean(s$with / s$on))
})
out$type_counts_by <- lapply(split(d[d$event == 1, ], d$group[d$event == 1]), function(s) {
  list(events = as.list(table(s$event_type)), patients = as.list(tapply(s$id, s$event_type, function(v) length(unique(v)))))
})
out$type_counts <- as.list(table(d$event_type[d$event == 1]))

write_json(out, "recurrent.json", digits = NA, auto_unbox = TRUE)
cat("recurrent.json written\n")
