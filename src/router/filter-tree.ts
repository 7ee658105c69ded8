// A trie of topic filters, one node per level, used to find every subscribed
// filter that matches a topic name without testing each filter. It stores one
// value per filter (the router stores the filter's shared index there).
//
// Who calls it: the router, at append time (which filters match this topic?)
// and when sessions subscribe and unsubscribe. Pure in-memory structure; it
// never validates filters (the caller has done that with src/protocol).

interface Node<V> {
  children: Map<string, Node<V>>;
  value: V | undefined;
  filter: string | undefined;
}

function newNode<V>(): Node<V> {
  return { children: new Map(), value: undefined, filter: undefined };
}

export class FilterTree<V> {
  readonly #root: Node<V> = newNode();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(filter: string): V | undefined {
    let node: Node<V> | undefined = this.#root;
    for (const level of filter.split("/")) {
      node = node.children.get(level);
      if (node === undefined) return undefined;
    }
    return node.value;
  }

  set(filter: string, value: V): void {
    let node = this.#root;
    for (const level of filter.split("/")) {
      let child = node.children.get(level);
      if (child === undefined) {
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
    }
    if (node.filter === undefined) this.#size++;
    node.value = value;
    node.filter = filter;
  }

  /** Removes a filter; empty branches are pruned so the tree never grows without bound. */
  delete(filter: string): boolean {
    const path: Array<[Node<V>, string]> = [];
    let node: Node<V> | undefined = this.#root;
    for (const level of filter.split("/")) {
      const child: Node<V> | undefined = node.children.get(level);
      if (child === undefined) return false;
      path.push([node, level]);
      node = child;
    }
    if (node.filter === undefined) return false;
    node.value = undefined;
    node.filter = undefined;
    this.#size--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i] as [Node<V>, string];
      const child = parent.children.get(level) as Node<V>;
      if (child.filter !== undefined || child.children.size > 0) break;
      parent.children.delete(level);
    }
    return true;
  }

  /**
   * Every stored filter matching `topic`, with its value. [MQTT-4.7.2-1] A
   * wildcard in the first level never matches a topic starting with '$'.
   */
  match(topic: string): Array<[string, V]> {
    const out: Array<[string, V]> = [];
    const levels = topic.split("/");
    const dollar = topic.startsWith("$");
    const visit = (node: Node<V>, depth: number): void => {
      const wildcardsAllowed = !(dollar && depth === 0);
      if (wildcardsAllowed) {
        // 'a/#' matches 'a' itself as well as everything below it (spec 4.7.1.2).
        const hash = node.children.get("#");
        if (hash?.filter !== undefined) out.push([hash.filter, hash.value as V]);
      }
      if (depth === levels.length) {
        if (node.filter !== undefined && depth > 0) out.push([node.filter, node.value as V]);
        return;
      }
      const exact = node.children.get(levels[depth] as string);
      if (exact !== undefined) visit(exact, depth + 1);
      if (wildcardsAllowed) {
        const plus = node.children.get("+");
        if (plus !== undefined) visit(plus, depth + 1);
      }
    };
    visit(this.#root, 0);
    return out;
  }

  *entries(): IterableIterator<[string, V]> {
    const stack: Node<V>[] = [this.#root];
    while (stack.length > 0) {
      const node = stack.pop() as Node<V>;
      if (node.filter !== undefined) yield [node.filter, node.value as V];
      for (const child of node.children.values()) stack.push(child);
    }
  }
}
