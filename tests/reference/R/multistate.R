# Illness-death model from diagnosis (free -> bone metastasis -> death) on the bundled synthetic cohort
# (survival 3.5.3, R 4.2.2): the transition rows, survfit(Surv(tstart, tstop, state) ~ 1, id, istate)
# (pstate, std.err, n.risk) overall and by a two-level group, and coxph(Surv(tstart, tstop, state) ~ age +
# her2pos, id, istate) (one model per transition).  Also a small hand-made data set with delayed entry,
# ties and subjects starting in the intermediate state.  Writes tests/reference/multistate.json.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })

p <- read.csv("../../datasets/bm_cohort/patients.csv", stringsAsFactors = FALSE)
d <- function(x) as.Date(ifelse(x == "", NA, x))
dx <- d(p$dx_date); bm <- d(p$bm_date); fu <- d(p$last_fu_date); death <- d(p$death_date)
end <- as.numeric(fu - dx); db <- as.numeric(bm - dx); dead <- !is.na(death)
fate <- ifelse(dead, "death", "censor")
rows <- list()
for (i in seq_len(nrow(p))) {
  if (!is.na(db[i]) && db[i] <= 0) {
    rows[[i]] <- data.frame(i = i, tstart = 0, tstop = end[i], from = "bone_metastasis", to = fate[i])
  } else if (!is.na(db[i]) && db[i] < end[i]) {
    rows[[i]] <- data.frame(i = i, tstart = c(0, db[i]), tstop = c(db[i], end[i]),
                            from = c("free", "bone_metastasis"), to = c("bone_metastasis", fate[i]))
  } else {
    rows[[i]] <- data.frame(i = i, tstart = 0, tstop = end[i], from = "free", to = fate[i])
  }
}
ms <- do.call(rbind, rows)
ms$tstart <- ms$tstart / 365.25; ms$tstop <- ms$tstop / 365.25
ms$patient_id <- p$patient_id[ms$i]
ms$age <- p$age[ms$i]
ms$her2pos <- as.integer(p$her2[ms$i] == "positive")
ms$state <- factor(ms$to, levels = c("censor", "bone_metastasis", "death"))
ms$istate <- factor(ms$from, levels = c("free", "bone_metastasis", "death"))

aj <- function(fit) {
  list(time = fit$time, pstate = unname(fit$pstate), std_err = unname(fit$std.err),
       n_risk = unname(fit$n.risk), lower = unname(fit$lower), upper = unname(fit$upper),
       states = fit$states, conf_type = fit$conf.type)
}
ref <- list(versions = list(R = R.version.string, survival = as.character(packageVersion("survival"))))
ref$rows <- list(patient_id = ms$patient_id, start = ms$tstart, stop = ms$tstop, from_state = ms$from,
                 to_state = ms$to)
ref$overall <- aj(survfit(Surv(tstart, tstop, state) ~ 1, data = ms, id = patient_id, istate = istate))
ref$overall_loglog <- aj(survfit(Surv(tstart, tstop, state) ~ 1, data = ms, id = patient_id, istate = istate,
                                 conf.type = "log-log"))
by <- lapply(c(0, 1), function(g) aj(survfit(Surv(tstart, tstop, state) ~ 1, data = ms[ms$her2pos == g, ],
                                              id = patient_id, istate = istate)))
ref$by_her2pos <- by
cf <- coxph(Surv(tstart, tstop, state) ~ age + her2pos, data = ms, id = patient_id, istate = istate)
ref$cox <- list(names = names(coef(cf)), coef = unname(coef(cf)), se = unname(sqrt(diag(cf$var))),
                naive_se = if (is.null(cf$naive.var)) NULL else unname(sqrt(diag(cf$naive.var))),
                transitions = unclass(cf$transitions), cmap = unclass(cf$cmap), loglik = cf$loglik, n = cf$n, nevent = cf$nevent)

# a small hand-made data set: ties, delayed entry, a subject starting in the intermediate state
small <- data.frame(
  id = c(1, 2, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 12),
  tstart = c(0, 0, 2, 0, 0, 3, 1, 0, 0, 2, 0, 2.5, 0, 4, 0, 0),
  tstop = c(5, 2, 6, 3, 3, 7, 4, 2, 2, 3, 8, 6, 4, 9, 1, 5),
  from = c("a", "a", "b", "a", "a", "b", "a", "b", "a", "b", "a", "b", "a", "b", "a", "b"),
  to = c("censor", "b", "c", "c", "b", "censor", "c", "c", "b", "c", "censor", "c", "b", "censor", "censor", "censor"))
small$state <- factor(small$to, levels = c("censor", "b", "c"))
small$istate <- factor(small$from, levels = c("a", "b", "c"))
ref$small_rows <- small[, c("id", "tstart", "tstop", "from", "to")]
ref$small <- aj(survfit(Surv(tstart, tstop, state) ~ 1, data = small, id = id, istate = istate))
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, null = "null", na = "null"), "multistate.json")
