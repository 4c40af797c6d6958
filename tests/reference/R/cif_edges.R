# Aalen-Johansen estimates and cmprsk::cuminc variances at the edges: the last subject at risk has the
# event (n = d = 1), everyone at risk fails together (n = d > 1), groups ending on an event.
# Writes cif_edges.json: per case the data and, per group and cause, cuminc's estimate and variance read by
# timepoints() at every distinct time.
cases <- list(
  last_subject_event = list(time = 1:6, status = c(1, 2, 0, 1, 2, 2), group = rep("all", 6)),
  last_subject_cause1 = list(time = 1:6, status = c(2, 1, 0, 2, 1, 1), group = rep("all", 6)),
  all_fail_together = list(time = c(1, 2, 3, 4, 5, 5), status = c(1, 2, 0, 1, 2, 2), group = rep("all", 6)),
  tie_then_censor = list(time = c(1, 2, 3, 4, 5, 6, 6), status = c(1, 2, 0, 1, 2, 1, 0), group = rep("all", 7)),
  groups_end_on_event = list(time = c(1, 2, 3, 4, 5, 6, 2, 3, 5, 7), status = c(1, 2, 0, 1, 2, 1, 1, 0, 2, 2),
                             group = c(rep("a", 6), rep("b", 4)))
)
out <- list(versions = list(R = R.version.string, cmprsk = as.character(packageVersion("cmprsk"))))
for (name in names(cases)) {
  d <- cases[[name]]
  fit <- if (length(unique(d$group)) > 1) cuminc(d$time, d$status, d$group, cencode = 0) else
    cuminc(d$time, d$status, cencode = 0)
  fit$Tests <- NULL
  times <- sort(unique(d$time))
  tp <- timepoints(fit, times)
  rows <- list()
  for (curve in rownames(tp$est)) {
    parts <- strsplit(curve, " ")[[1]]
    rows[[length(rows) + 1]] <- list(group = parts[1], cause = as.integer(parts[2]), time = times,
                                     estimate = unname(tp$est[curve, ]), variance = unname(tp$var[curve, ]))
  }
  out[[name]] <- list(data = d, curves = rows)
}
write_json(out, "cif_edges.json", digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
