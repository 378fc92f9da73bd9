/**
 * The simulated nat and filter tables of both families.
 *
 * @module
 */

import type { IptablesFamily, IptablesFamilyState, TableName } from "../../src/state/types.ts";
import { SimulatedTable } from "./simulated_iptables.ts";

/** Both families' nat and filter tables. */
export class SimulatedIptables {
  #tables: Record<IptablesFamily, Record<TableName, SimulatedTable>>;

  /** Starts with the tables of `initial`. */
  constructor(initial: Readonly<Record<IptablesFamily, IptablesFamilyState>>) {
    const family = (f: IptablesFamily) => ({
      nat: new SimulatedTable("nat", initial[f].nat),
      filter: new SimulatedTable("filter", initial[f].filter),
    });
    this.#tables = { ipv4: family("ipv4"), ipv6: family("ipv6") };
  }

  /** Our part of every table. */
  state(): Record<IptablesFamily, IptablesFamilyState> {
    const family = (f: IptablesFamily) => ({
      nat: this.#tables[f].nat.state(),
      filter: this.#tables[f].filter.state(),
    });
    return { ipv4: family("ipv4"), ipv6: family("ipv6") };
  }

  /** The sets any rule of any table matches on. */
  referencedSets(): Set<string> {
    const all = Object.values(this.#tables).flatMap((t) => [t.nat, t.filter]);
    return new Set(all.flatMap((t) => [...t.referencedSets()]));
  }

  /** Runs one restore input on one table (see {@linkcode SimulatedTable.restore}). */
  restore(
    family: IptablesFamily,
    table: TableName,
    lines: readonly string[],
    setExists: (name: string) => boolean,
  ): void {
    this.#tables[family][table].restore(lines, setExists);
  }
}
