# Time-varying exposures (survival 3.5.3, R 4.2.2): counting-process rows from tmerge(..., tdc()) on the
# bundled synthetic cohort and coxph on them.  Writes tests/reference/timevarying.json.
# Analyses: (a) death after bone metastasis with bone-targeted therapy, visceral metastasis and the first
# skeletal event as time-dependent exposures; (b) death from diagnosis with bone metastasis as one.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })

p <- read.csv("../../datasets/bm_cohort/patients.csv", stringsAsFactors = FALSE)
ev <- read.csv("../../datasets/bm_cohort/skeletal_events.csv", stringsAsFactors = FALSE)
d <- function(x) as.Date(ifelse(x == "", NA, x))
first_sre <- tapply(as.numeric(d(ev$event_date)), ev$patient_id, min)
p$sre_date <- as.Date(unname(first_sre[p$patient_id]), origin = "1970-01-01")
years <- function(later, origin) as.numeric(later - origin) / 365.25

rows <- function(origin_col, exposures) {
  o <- d(p[[origin_col]])
  fu <- d(p$last_fu_date)
  death <- d(p$death_date)
  base <- data.frame(patient_id = p$patient_id, time = years(fu, o), status = as.integer(!is.na(death)),
                     age = p$age, subtype = p$subtype, stringsAsFactors = FALSE)
  for (nm in names(exposures)) base[[paste0(nm, "_t")]] <- years(if (nm == "sre") p$sre_date else d(p[[exposures[[nm]]]]), o)
  # the endpoint's exclusions: origin or follow-up missing, death at or before origin, no follow-up
  keep <- !is.na(o) & !is.na(fu) & base$time > 0
  base <- base[keep, ]
  td <- tmerge(base[, c("patient_id", "age", "subtype")], base, id = patient_id, death = event(time, status))
  for (nm in names(exposures)) {
    args <- list(td, base, id = quote(patient_id))
    args[[nm]] <- call("tdc", as.name(paste0(nm, "_t")))
    td <- do.call(tmerge, args)
  }
  td
}

out <- function(td, exposures, rhs) {
  fit <- coxph(as.formula(paste("Surv(tstart, tstop, death) ~", rhs)), data = td, ties = "efron")
  r <- list(rows = list(patient_id = td$patient_id, start = td$tstart, stop = td$tstop, status = td$death))
  for (nm in names(exposures)) r$rows[[nm]] <- td[[nm]]
  r$cox <- list(names = names(coef(fit)), coef = unname(coef(fit)), se = unname(sqrt(diag(fit$var))),
                loglik = fit$loglik, n = fit$n, nevent = fit$nevent)
  r$rhs <- rhs
  r
}

ref <- list(versions = list(R = R.version.string, survival = as.character(packageVersion("survival"))))
ex_a <- list(bta = "bta_start_date", visceral = "visceral_met_date", sre = "skeletal_event")
ref$after_bm <- out(rows("bm_date", ex_a), ex_a, "bta + visceral + sre + age")
# landmark at 1 year after bone metastasis: the row covering the landmark, followed to the end
td <- rows("bm_date", ex_a)
last <- td[!duplicated(td$patient_id, fromLast = TRUE), ]
lm <- td[td$tstart <= 1 & td$tstop > 1, ]
k <- match(lm$patient_id, last$patient_id)
lm$time <- last$tstop[k] - 1
lm$status <- last$death[k]
fit <- coxph(Surv(time, status) ~ bta + visceral + sre + age, data = lm)
ref$landmark_1y <- list(patient_id = lm$patient_id, time = lm$time, status = lm$status, bta = lm$bta,
                        visceral = lm$visceral, sre = lm$sre,
                        cox = list(names = names(coef(fit)), coef = unname(coef(fit)),
                                   se = unname(sqrt(diag(fit$var))), n = fit$n, nevent = fit$nevent))
ex_b <- list(bm = "bm_date", bta = "bta_start_date")
ref$from_dx <- out(rows("dx_date", ex_b), ex_b, "bm + bta + age")
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, null = "null", na = "null"), "timevarying.json")
