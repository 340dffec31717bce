-- One row per node, resolution (seconds per point), point start and figure: the mean
-- of the samples that fell in the point (n of them, so later samples fold in).
CREATE TABLE IF NOT EXISTS hw_metric_history (
    node TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    t BIGINT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (node, resolution, metric, t)
);
-- Pruning deletes by age across metrics.
CREATE INDEX IF NOT EXISTS hw_metric_history_age ON hw_metric_history (resolution, t);
