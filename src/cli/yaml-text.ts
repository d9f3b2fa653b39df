// yaml's stringify behind a module of our own, for commands that load it only when they print
// YAML: bundled with splitting, a dynamic import() of the CommonJS package itself would give
// only its default export, while a static import here keeps its named ones.
export { stringify as yamlText } from 'yaml';
