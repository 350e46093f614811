import { storeContract } from './contract.js';
import { MemoryStore } from '../../src/store/index.js';

// The memory store's "storage" is the object itself: a restart reopens the same object.
let current = new MemoryStore();
storeContract('memory', {
  batched: false,
  create: () => current,
  reset: async () => {
    current = new MemoryStore();
  },
});
