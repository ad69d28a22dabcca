package io.flowsec.testbed.bench;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Shape;
import java.awt.Stroke;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.io.IOException;
import java.nio.file.Path;
import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Draws a benchmark's headline against size like the paper's Fig. 5: sizes on a log-2 axis, one line per mode (and
 * lane count), the y axis from 0 so ratios read true. Each mode keeps its colour and marker in every chart
 * (single grey, pcrypt orange, flow blue), so charts from different runs and machines compare at a glance.
 */
public final class ThroughputChart {
    static {
        // Benchmarks run on servers without a display; must be set before AWT initialises.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    public static final int WIDTH = 900;
    public static final int HEIGHT = 560;

    private static final Map<String, Color> MODE_COLOURS = Map.of(
            "single", new Color(0x40, 0x40, 0x40),
            "pcrypt", new Color(0xE6, 0x7E, 0x00),
            "flow", new Color(0x1F, 0x5F, 0xBF));
    /** For modes the paper does not have. */
    private static final List<Color> OTHER_COLOURS = List.of(
            new Color(0x2C, 0xA0, 0x2C), new Color(0x94, 0x67, 0xBD), new Color(0xD6, 0x27, 0x28));
    private static final Map<String, Shape> MODE_SHAPES = Map.of(
            "single", new Rectangle2D.Double(-3.5, -3.5, 7, 7),
            "pcrypt", triangle(),
            "flow", new Ellipse2D.Double(-4, -4, 8, 8));
    private static final Shape OTHER_SHAPE = diamond();
    /** Lane counts differ by dash pattern, the fewest lanes solid. */
    private static final List<float[]> LANE_DASHES = List.of(
            new float[0], new float[] {8f, 4f}, new float[] {2f, 3f}, new float[] {8f, 3f, 2f, 3f});

    private ThroughputChart() {
    }

    /** Writes the chart as a {@value #WIDTH}×{@value #HEIGHT} PNG. */
    public static void write(Path file, String title, String machine, Headline headline, List<BenchPoint> points)
            throws IOException {
        ChartUtils.saveChartAsPNG(file.toFile(), create(title, machine, headline, points), WIDTH, HEIGHT);
    }

    /** The chart, for callers that render it elsewhere. */
    public static JFreeChart create(String title, String machine, Headline headline, List<BenchPoint> points) {
        Sweep sweep = new Sweep(points, headline);
        XYSeriesCollection dataset = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        int other = 0;
        for (String mode : sweep.modes()) {
            Color colour = MODE_COLOURS.get(mode);
            if (colour == null) {
                colour = OTHER_COLOURS.get(other++ % OTHER_COLOURS.size());
            }
            for (int laneIndex = 0; laneIndex < sweep.laneCounts().size(); laneIndex++) {
                int lanes = sweep.laneCounts().get(laneIndex);
                XYSeries series = new XYSeries(sweep.byLanes() ? mode + ", " + lanes + (lanes == 1 ? " lane" : " lanes") : mode);
                for (Sweep.Row row : sweep.rows()) {
                    double v = sweep.value(mode, lanes, row.size());
                    if (row.lanes() == lanes && !Double.isNaN(v)) {
                        series.add(row.size(), v);
                    }
                }
                if (series.isEmpty()) {
                    continue;
                }
                int index = dataset.getSeriesCount();
                dataset.addSeries(series);
                renderer.setSeriesPaint(index, colour);
                renderer.setSeriesShape(index, MODE_SHAPES.getOrDefault(mode, OTHER_SHAPE));
                renderer.setSeriesStroke(index, stroke(LANE_DASHES.get(laneIndex % LANE_DASHES.size())));
            }
        }

        JFreeChart chart = ChartFactory.createXYLineChart(title, "size (bytes)", headline.title(), dataset,
                PlotOrientation.VERTICAL, true, false, false);
        chart.addSubtitle(new TextTitle(machine));
        chart.setBackgroundPaint(Color.WHITE);
        XYPlot plot = chart.getXYPlot();
        plot.setRenderer(renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);

        LogAxis sizes = new LogAxis("size (bytes)");
        sizes.setBase(2);
        sizes.setAutoTickUnitSelection(false);
        sizes.setTickUnit(new NumberTickUnit(1));
        sizes.setNumberFormatOverride(new SizeFormat());
        int smallest = sweep.rows().stream().mapToInt(Sweep.Row::size).filter(s -> s > 0).min().orElse(0);
        int largest = sweep.rows().stream().mapToInt(Sweep.Row::size).max().orElse(0);
        if (smallest > 0) {
            // A quarter of a power of two beyond the extreme sizes, so their markers are not cut in half.
            sizes.setRange(smallest / 1.19, largest * 1.19);
        }
        plot.setDomainAxis(sizes);
        NumberAxis values = (NumberAxis) plot.getRangeAxis();
        values.setAutoRangeIncludesZero(true);
        return chart;
    }

    /** A size for an axis label: bytes below 1K, then K and M (binary), e.g. 64, 1K, 1.5K, 16K, 1M. */
    public static String sizeLabel(double bytes) {
        if (bytes >= 1024 * 1024) {
            return scaled(bytes / (1024 * 1024)) + "M";
        }
        if (bytes >= 1024) {
            return scaled(bytes / 1024) + "K";
        }
        return scaled(bytes);
    }

    private static String scaled(double v) {
        double rounded = Math.round(v * 10) / 10.0;
        return rounded == Math.rint(rounded)
                ? Long.toString((long) rounded)
                : String.format(Locale.ROOT, "%.1f", rounded);
    }

    private static Stroke stroke(float[] dash) {
        return dash.length == 0
                ? new BasicStroke(2f)
                : new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, dash, 0f);
    }

    private static Shape triangle() {
        Path2D.Double p = new Path2D.Double();
        p.moveTo(0, -4.5);
        p.lineTo(4.5, 3.5);
        p.lineTo(-4.5, 3.5);
        p.closePath();
        return p;
    }

    private static Shape diamond() {
        Path2D.Double p = new Path2D.Double();
        p.moveTo(0, -4.5);
        p.lineTo(4.5, 0);
        p.lineTo(0, 4.5);
        p.lineTo(-4.5, 0);
        p.closePath();
        return p;
    }

    /** Formats the log axis's tick values with {@link #sizeLabel(double)}; formatting only. */
    private static final class SizeFormat extends NumberFormat {
        @Override
        public StringBuffer format(double number, StringBuffer toAppendTo, FieldPosition pos) {
            return toAppendTo.append(sizeLabel(number));
        }

        @Override
        public StringBuffer format(long number, StringBuffer toAppendTo, FieldPosition pos) {
            return toAppendTo.append(sizeLabel(number));
        }

        @Override
        public Number parse(String source, ParsePosition parsePosition) {
            throw new UnsupportedOperationException("size labels are not parsed");
        }
    }
}
