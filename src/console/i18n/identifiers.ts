// The identifier pages' strings (list, search, edit, upload), Chinese and English (keys prefixed by the page).
export default {
  zh: {} as Record<string, string>,
  en: {} as Record<string, string>,
};
