// Types of ringpad-client (src/index.js). Positions and lengths are Unicode
// code points, as on the wire (docs/PROTOCOL.md §2), not UTF-16 units.

/** An op in the wire format: positive = retain, negative = delete, string = insert (§6). */
export type Component = number | string;
export type Op = Component[];
/** [anchor, head] in code points; a caret is [p, p]. */
export type Range = [number, number];
export type DocState = 'synchronized' | 'awaiting-confirm' | 'awaiting-with-buffer';

export interface Peer { session: string; name: string | null; color: string | null; sel: Range[] }
export interface ChangeEvent { op: Op; by: string | null; id: string | null; v: number; resync: boolean }
export interface AckEvent { id: string; v: number }
export interface DocStatusEvent { state: DocState; v: number | null }
export interface NoticeEvent { kind: 'lost' | 'refused' | 'readonly' | 'fatal' | 'retry' | 'deleted'; message: string; yourText?: string }
export interface ConnectionStatus {
  state: 'connecting' | 'connected' | 'reconnecting' | 'unauthorized' | 'stopped' | 'offline';
  attempt?: number; retryAt?: number; reason?: string | null; session?: string;
}
export interface Limits {
  max_message_bytes?: number; max_op_bytes?: number; max_op_components?: number; max_doc_codepoints?: number;
  max_doc_name_bytes?: number; max_open_docs?: number; history_depth?: number; presence_per_second?: number;
}

export class RingpadError extends Error {
  /** The protocol error code (§5), e.g. 'forbidden', 'bad_doc_name'. */
  code: string;
  ref?: string;
}

export class OtError extends Error {
  /** One of the names of tests/vectors/README.md, e.g. 'base_length'. */
  code: string;
}

interface DocEvents {
  change: ChangeEvent; ack: AckEvent; presence: Peer; leave: { session: string };
  status: DocStatusEvent; notice: NoticeEvent;
}
interface ClientEvents { status: ConnectionStatus; error: RingpadError }

export class Doc {
  readonly name: string;
  /** The text, your own edits included. */
  readonly text: string;
  /** The version the text is based on (server_v); null before the first snapshot. */
  readonly v: number | null;
  readonly state: DocState;
  /** Length of the text in code points. */
  readonly length: number;
  readonly peers: Map<string, Peer>;
  edit(op: Op): void;
  insert(pos: number, text: string): void;
  delete(pos: number, count: number): void;
  setText(text: string): void;
  setSelection(sel: Range[]): void;
  whenSynced(): Promise<void>;
  close(): void;
  on<K extends keyof DocEvents>(event: K, fn: (e: DocEvents[K]) => void): () => void;
  once<K extends keyof DocEvents>(event: K, fn: (e: DocEvents[K]) => void): () => void;
  off<K extends keyof DocEvents>(event: K, fn: (e: DocEvents[K]) => void): void;
}

export interface ClientOptions {
  /** A JWT when the server has auth on; a function is read at each (re)connect. */
  token?: string | (() => string | undefined);
  name?: string;
  /** '#rgb' or '#rrggbb' */
  color?: string;
  /** Prefix of op ids; random by default. */
  clientId?: string;
  /** A WebSocket class: needed on Node 20/21 (`import WebSocket from 'ws'`). */
  WebSocket?: unknown;
}

export class Client {
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  readonly clientId: string;
  readonly docs: Map<string, Doc>;
  readonly limits: Limits;
  readonly session: string | null;
  readonly connected: boolean;
  readonly status: ConnectionStatus | undefined;
  open(name: string): Promise<Doc>;
  disconnect(): void;
  connect(): void;
  close(): void;
  dropConnection(): void;
  on<K extends keyof ClientEvents>(event: K, fn: (e: ClientEvents[K]) => void): () => void;
  once<K extends keyof ClientEvents>(event: K, fn: (e: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(event: K, fn: (e: ClientEvents[K]) => void): void;
}

export class OpBuilder {
  retain(n: number): this;
  insert(s: string): this;
  delete(n: number): this;
  done(): Op;
}
export function normalize(op: unknown): Op;
export function apply(text: string, op: Op): string;
export function compose(a: Op, b: Op): Op;
export function transform(a: Op, b: Op): [Op, Op];
export function invert(op: Op, before: string): Op;
export function transformPosition(pos: number, op: Op, side?: 'before' | 'after'): number;
export function baseLength(op: Op): number;
export function targetLength(op: Op): number;
export function isNoop(op: Op): boolean;
export function cpLength(s: string): number;
export function cpSlice(s: string, startCp: number, endCp?: number): string;
export function utf8Length(s: string): number;
export function splitOp(op: Op, maxInsertBytes: number): [Op, Op | null];
export function diffOp(a: string, b: string): Op;
export function backoffDelayMs(attempt: number, rnd?: () => number, o?: { baseMs?: number; capMs?: number }): number;
export const SUBPROTOCOL: 'ringpad.v1';
