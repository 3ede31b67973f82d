/* One small SVG line-plot renderer for every report that draws curves (`rlc tts` accuracy
 * vs N, the compute-optimal curves vs tokens): axes with ticks and labels, a grid, one
 * polyline with markers per series, a legend at the right. Plain SVG 1.1 text. */
#pragma once

typedef struct {
    const char *name;
    const char *color; /* NULL: the palette's next colour */
    int n;
    const double *x, *y; /* points with a non-finite x or y are skipped */
    int dashed;
} rlc_plot_series_t;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int logx;          /* logarithmic x axis */
    int x_ticks_data;  /* x ticks at the data's distinct x values (else "nice" ticks) */
    double ymin, ymax; /* fixed y range when ymax > ymin, else from the data */
} rlc_plot_t;

/* The SVG text (malloc'd), or NULL when out of memory. */
char *rlc_plot_svg(const rlc_plot_t *p, const rlc_plot_series_t *s, int n);
/* A compact number for tick labels: 1500 -> "1.5k", 2e6 -> "2M", 0.25 -> "0.25". */
void rlc_plot_num(char *buf, int cap, double v);
