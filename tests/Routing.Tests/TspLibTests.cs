using Platform.Routing.Jobs;
using Platform.Tsp;

namespace Platform.Routing.Tests;

/// <summary>The TSPLIB reader: the real files' quirks are read, anything that would change the answer is refused clearly.</summary>
public sealed class TspLibTests
{
    [Fact]
    public void Parse_RealFileQuirks_AreRead()
    {
        const string text = "NAME:quirky\r\n  COMMENT :  spaces, CRLF, tabs, exponents\r\ntype : tsp\r\nDIMENSION   :   4\r\n" +
            "EDGE_WEIGHT_TYPE: EUC_2D\r\nDISPLAY_DATA_TYPE : COORD_DISPLAY\r\nNODE_COORD_SECTION\r\n" +
            "   1 0.0 0.0\r\n2\t3.0e+00\t0\r\n 3 3 4.000E0\r\n4 0 4\r\n\r\n"; // no EOF

        var instance = TspLib.Parse(text);

        Assert.Equal("quirky", instance.Name);
        Assert.Equal(4, instance.Count);
        Assert.Equal(Metric.Euc2D, instance.Metric);
        Assert.Equal(14, instance.Length([0, 1, 2, 3]));
    }

    [Fact]
    public void Parse_AttWithDisplaySectionAfterCoordinates()
    {
        const string text = "NAME : a\nTYPE : TSP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : ATT\nNODE_COORD_SECTION\n1 0 0\n2 10 0\n3 0 10\nDISPLAY_DATA_SECTION\n1 5 5\nEOF\n";

        var instance = TspLib.Parse(text);

        Assert.Equal(Metric.Att, instance.Metric);
        Assert.Equal(3, instance.Count);
        Assert.Equal(4, instance.Distance(0, 1));
    }

    [Theory]
    [InlineData("NAME : g\nTYPE : TSP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : GEO\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\n", "EDGE_WEIGHT_TYPE 'GEO' is not supported")]
    [InlineData("NAME : e\nTYPE : TSP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : FULL_MATRIX\n", "EDGE_WEIGHT_TYPE 'EXPLICIT' is not supported")]
    [InlineData("NAME : a\nTYPE : ATSP\nDIMENSION : 3\n", "TYPE 'ATSP' is not supported")]
    [InlineData("NAME : d\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\n", "DIMENSION is 4 but NODE_COORD_SECTION has 3 nodes")]
    [InlineData("NAME : d\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n1 1 1\n3 2 2\n", "node 1 is given twice")]
    [InlineData("NAME : d\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 x 1\n3 2 2\n", "coordinate 'x' is not a finite number")]
    [InlineData("NAME : d\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0 7\n", "a node line is 'number x y'")]
    [InlineData("NAME : d\nEDGE_WEIGHT_TYPE : EUC_2D\n", "NODE_COORD_SECTION is missing")]
    [InlineData("NAME : d\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\n", "EDGE_WEIGHT_TYPE is missing")]
    [InlineData("NAME : d\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_TYPE : THREED_COORDS\n", "NODE_COORD_TYPE 'THREED_COORDS' is not supported")]
    [InlineData("NAME : d\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n", "at least 3 cities")]
    public void Parse_Unsupported_SaysWhat(string text, string message)
    {
        var e = Assert.Throws<TspLibException>(() => TspLib.Parse(text));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_ThenParse_RoundTrips()
    {
        var instance = new Instance([0, 1.5, 1e6], [2, 3, -4.25], Metric.Att, "rt", "a comment");

        var again = TspLib.Parse(TspLib.Write(instance));

        Assert.Equal(instance.X, again.X);
        Assert.Equal(instance.Y, again.Y);
        Assert.Equal(Metric.Att, again.Metric);
        Assert.Equal("a comment", again.Comment);
    }

    [Fact]
    public void ShippedInstances_AllParse_WithBestKnownLengths()
    {
        var shipped = new ShippedInstances().List().ToList();

        Assert.Contains(shipped, i => i.Name == "att-80" && i.Metric == "ATT");
        Assert.True(shipped.Count >= 4);
        Assert.All(shipped, i => Assert.True(i.BestKnown > 0, $"{i.Name} has a best known length"));
    }
}
