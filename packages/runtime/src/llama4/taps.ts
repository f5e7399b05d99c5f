/**
 * Activation taps: the rows each linear layer (and each routed expert) saw during a forward pass, for
 * imatrix / GPTQ / AWQ statistics. Expert rows are the router-scaled inputs of exactly the tokens routed to
 * that expert, in token order; `tokenIndex` says which batch rows they came from.
 */
export interface ActivationEvent {
  /** GGUF tensor name of the weight that consumes these rows, e.g. "blk.1.ffn_gate_exps.weight". */
  readonly tensor: string;
  /** Expert index for routed-expert tensors; undefined otherwise. */
  readonly expert?: number;
  /** Input rows, row-major [nRows × nCols]. Valid only during the callback (copy to keep). */
  readonly rows: Float32Array;
  readonly nRows: number;
  readonly nCols: number;
  /** For expert events: the batch row (token) of each input row. */
  readonly tokenIndex?: Int32Array;
  /** For expert events: the router weight (sigmoid) each row was scaled by. */
  readonly routerWeight?: Float32Array;
}

export type ActivationTap = (ev: ActivationEvent) => void;
