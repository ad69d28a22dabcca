package io.flowsec.testbed.bench;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYDataset;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ThroughputChartTest {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final String MACHINE = "2 cores, Test CPU, Linux 6.0, JDK 25 (Test)";

    @TempDir
    Path dir;

    private static BenchPoint point(String mode, int size, int lanes, double gbps) {
        return new BenchPoint(mode, "director", size, lanes, 10, gbps, Double.NaN, 1000, Double.NaN, List.of(0.5),
                100, 0, "");
    }

    private static List<BenchPoint> sweep(int lanes) {
        List<BenchPoint> points = new ArrayList<>();
        for (int size = 64; size <= 16384; size *= 2) {
            points.add(point("single", size, lanes, 0.5 + size / 16384.0));
            points.add(point("pcrypt", size, lanes, 0.8 + size / 8192.0));
            points.add(point("flow", size, lanes, 1.0 + size / 4096.0));
        }
        return points;
    }

    private static List<String> seriesNames(XYDataset dataset) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < dataset.getSeriesCount(); i++) {
            names.add(dataset.getSeriesKey(i).toString());
        }
        return names;
    }

    private static boolean contains(BufferedImage image, int rgb) {
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xFFFFFF) == rgb) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void the_chart_is_a_900_by_560_png() throws IOException {
        Path file = dir.resolve("micro.png");
        ThroughputChart.write(file, "Micro benchmark", MACHINE, Headline.THROUGHPUT, sweep(2));
        byte[] bytes = Files.readAllBytes(file);
        assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(bytes, 8));
        BufferedImage image = ImageIO.read(file.toFile());
        assertNotNull(image);
        assertEquals(900, image.getWidth());
        assertEquals(560, image.getHeight());
        // The series were drawn, in their modes' colours
        assertTrue(contains(image, 0x1F5FBF), "no flow blue");
        assertTrue(contains(image, 0xE67E00), "no pcrypt orange");
        assertTrue(contains(image, 0x404040), "no single grey");
    }

    @Test
    void one_series_per_mode_in_paper_order_with_sizes_on_a_log_2_axis_and_values_from_0() {
        JFreeChart chart = ThroughputChart.create("Micro", MACHINE, Headline.THROUGHPUT, sweep(1));
        XYPlot plot = chart.getXYPlot();
        assertEquals(List.of("single", "pcrypt", "flow"), seriesNames(plot.getDataset()));
        assertEquals(9, plot.getDataset().getItemCount(2));
        assertEquals(16384, plot.getDataset().getXValue(2, 8));
        assertEquals(5.0, plot.getDataset().getYValue(2, 8));
        LogAxis sizes = assertInstanceOf(LogAxis.class, plot.getDomainAxis());
        assertEquals(2, sizes.getBase());
        assertTrue(sizes.getLowerBound() < 64 && sizes.getUpperBound() > 16384);
        NumberAxis values = assertInstanceOf(NumberAxis.class, plot.getRangeAxis());
        assertEquals(0, values.getLowerBound());
        assertEquals("Micro", chart.getTitle().getText());
        assertTrue(chart.getSubtitles().stream()
                .anyMatch(t -> t instanceof TextTitle text && text.getText().equals(MACHINE)));
    }

    @Test
    void several_lane_counts_get_a_series_each_and_modes_keep_their_colours() {
        List<BenchPoint> points = new ArrayList<>(sweep(1));
        points.addAll(sweep(2));
        XYPlot plot = ThroughputChart.create("Micro", MACHINE, Headline.THROUGHPUT, points).getXYPlot();
        assertEquals(List.of("single, 1 lane", "single, 2 lanes", "pcrypt, 1 lane", "pcrypt, 2 lanes",
                "flow, 1 lane", "flow, 2 lanes"), seriesNames(plot.getDataset()));
        var renderer = plot.getRenderer();
        assertEquals(renderer.getSeriesPaint(4), renderer.getSeriesPaint(5));
        assertNotEquals(renderer.getSeriesPaint(0), renderer.getSeriesPaint(4));
        assertNotEquals(renderer.getSeriesPaint(2), renderer.getSeriesPaint(4));
        assertNotEquals(renderer.getSeriesStroke(4), renderer.getSeriesStroke(5));
        // Without single, pcrypt and flow keep their colours
        XYPlot flowOnly = ThroughputChart.create("Micro", MACHINE, Headline.THROUGHPUT,
                List.of(point("flow", 64, 1, 1), point("pcrypt", 64, 1, 1))).getXYPlot();
        assertEquals(renderer.getSeriesPaint(4), flowOnly.getRenderer().getSeriesPaint(1));
        assertEquals(renderer.getSeriesPaint(2), flowOnly.getRenderer().getSeriesPaint(0));
    }

    @Test
    void size_labels_switch_to_k_from_1024() {
        assertEquals("64", ThroughputChart.sizeLabel(64));
        assertEquals("512", ThroughputChart.sizeLabel(512));
        assertEquals("1K", ThroughputChart.sizeLabel(1024));
        assertEquals("1.5K", ThroughputChart.sizeLabel(1536));
        assertEquals("16K", ThroughputChart.sizeLabel(16384));
        assertEquals("1M", ThroughputChart.sizeLabel(1 << 20));
    }

    @Test
    void the_log_axis_labels_its_ticks_as_sizes() {
        XYPlot plot = ThroughputChart.create("Micro", MACHINE, Headline.THROUGHPUT, sweep(1)).getXYPlot();
        LogAxis sizes = (LogAxis) plot.getDomainAxis();
        assertEquals("16K", sizes.getNumberFormatOverride().format(16384.0));
        assertEquals("128", sizes.getNumberFormatOverride().format(128.0));
    }
}
