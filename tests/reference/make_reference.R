# Regenerates the reference JSON in tests/reference/ from the bundled data, with R's survival, cmprsk,
# mets and MASS (Debian: r-base-core r-cran-survival r-cran-cmprsk r-cran-mets r-cran-mass r-cran-jsonlite).
# Run from tests/reference/:  Rscript make_reference.R   (or `make reference` at the top)
# Each family has its own script in R/; each writes its own <family>.json next to this file.
suppressPackageStartupMessages({
  library(survival); library(cmprsk); library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
scripts <- sort(list.files("R", pattern = "\\.R$", full.names = TRUE))
if (length(args)) scripts <- scripts[basename(scripts) %in% paste0(args, ".R")]
for (s in scripts) {
  cat("==", s, "\n")
  source(s, local = new.env())
}
