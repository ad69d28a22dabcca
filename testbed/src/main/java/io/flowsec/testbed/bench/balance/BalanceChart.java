package io.flowsec.testbed.bench.balance;

import io.flowsec.testbed.bench.ThroughputChart;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The balancing benchmark's chart: time since the imbalance on x, one line per policy (static grey, sender orange,
 * receiver blue, in every run), the delivered fraction above and the loaded lane's share of router B's tunnel
 * datagrams below, a dashed line at t0.
 */
public final class BalanceChart {
    static {
        // as ThroughputChart: servers have no display, and this must be set before AWT starts
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private static final Map<String, Color> POLICY_COLOURS = Map.of(
            "static", new Color(0x40, 0x40, 0x40),
            "sender", new Color(0xE6, 0x7E, 0x00),
            "receiver", new Color(0x1F, 0x5F, 0xBF));

    private BalanceChart() {
    }

    /** Writes the chart as a PNG of ThroughputChart's size. */
    public static void write(Path file, String title, String machine, Map<String, List<BalanceSample>> timelines,
                             int loadedLane) throws IOException {
        ChartUtils.saveChartAsPNG(file.toFile(), create(title, machine, timelines, loadedLane), ThroughputChart.WIDTH,
                ThroughputChart.HEIGHT);
    }

    public static JFreeChart create(String title, String machine, Map<String, List<BalanceSample>> timelines,
                                    int loadedLane) {
        NumberAxis time = new NumberAxis("seconds since router B's lane " + loadedLane + " was throttled");
        CombinedDomainXYPlot plot = new CombinedDomainXYPlot(time);
        plot.add(panel(timelines, "delivered / offered", BalanceSample::deliveredFraction), 3);
        plot.add(panel(timelines, "lane " + loadedLane + "'s share at B", s -> s.share(loadedLane)), 2);
        plot.setGap(12);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.addSubtitle(new TextTitle(machine));
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }

    private static XYPlot panel(Map<String, List<BalanceSample>> timelines, String label,
                                ToDoubleFunction<BalanceSample> value) {
        XYSeriesCollection dataset = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        for (Map.Entry<String, List<BalanceSample>> timeline : timelines.entrySet()) {
            XYSeries series = new XYSeries(timeline.getKey());
            for (BalanceSample sample : timeline.getValue()) {
                double v = value.applyAsDouble(sample);
                if (!Double.isNaN(v)) {
                    series.add(sample.t(), v);
                }
            }
            int index = dataset.getSeriesCount();
            dataset.addSeries(series);
            renderer.setSeriesPaint(index, POLICY_COLOURS.getOrDefault(timeline.getKey(), Color.GREEN.darker()));
            renderer.setSeriesStroke(index, new BasicStroke(2f));
            // one legend for both panels: the lower panel's series repeat the upper's
            renderer.setSeriesVisibleInLegend(index, label.startsWith("delivered"));
        }
        NumberAxis axis = new NumberAxis(label);
        axis.setRange(0, 1.05);
        XYPlot plot = new XYPlot(dataset, null, axis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        ValueMarker t0 = new ValueMarker(0, Color.RED, new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER,
                10f, new float[] {6f, 4f}, 0f));
        plot.addDomainMarker(t0);
        return plot;
    }
}
