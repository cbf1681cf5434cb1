// The ops pages' strings, Chinese and English (keys prefixed by the page).
export default {
  zh: {} as Record<string, string>,
  en: {} as Record<string, string>,
};
