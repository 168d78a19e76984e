// Modular subtraction for BN254 (combinational; the caller registers the result).
// Takes a, b < p and returns a result < p. FIELD: 0 = Fr, 1 = Fq.

// d = a - b mod p: a - b > -p, so add p back if it borrowed.
module mod_sub #(
    parameter integer FIELD = 0
) (
    input  wire [255:0] a,
    input  wire [255:0] b,
    output wire [255:0] d
);
    localparam [255:0] P = (FIELD == 0)
        ? 256'h30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001
        : 256'h30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;
    wire [256:0] diff = {1'b0, a} - {1'b0, b};
    wire [255:0] diff_plus_p = diff[255:0] + P;
    assign d = diff[256] ? diff_plus_p : diff[255:0];
endmodule
