// N register stages of a W-bit value (N = 0: a wire). No reset: data only.
module delay #(
    parameter integer W = 256,
    parameter integer N = 1
) (
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire         clk,  // unused when N = 0
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [W-1:0] d,
    output wire [W-1:0] q
);
    wire [W-1:0] s [0:N];
    assign s[0] = d;
    genvar k;
    generate
        for (k = 0; k < N; k = k + 1) begin : stage
            reg [W-1:0] r;
            always @(posedge clk) r <= s[k];
            assign s[k+1] = r;
        end
    endgenerate
    assign q = s[N];
endmodule
